"""The graphql-transport-ws server: pings, init timeout, origins, session auth, slow consumers."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from schema_bridge.schema import get_schema_index
from schema_bridge.websocket import PROTOCOL, Connection
from tests.support.live_server import LiveServer
from tests.support.rebuild import BOARD_SUBSCRIPTION
from tests.support.world import BoardWorld

SUBPROTOCOLS = [Subprotocol(PROTOCOL)]


def _tune(settings: SettingsWrapper, **values: Any) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, **values}


async def _receive(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


async def _closed_code(ws: ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed:
        return ws.close_code


def test_server_pings_and_closes_when_no_pong(
    board_world: BoardWorld, rx_server: LiveServer, settings: SettingsWrapper
) -> None:
    _tune(settings, PING_INTERVAL=0.2, PONG_TIMEOUT=0.5)

    async def scenario() -> int | None:
        async with connect(rx_server.ws_url, subprotocols=SUBPROTOCOLS) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert await _receive(ws) == {"type": "connection_ack"}
            assert await _receive(ws) == {"type": "ping"}
            await ws.send(json.dumps({"type": "pong"}))
            assert await _receive(ws) == {"type": "ping"}  # answered: the connection lives on
            return await _closed_code(ws)  # this ping stays unanswered

    assert asyncio.run(scenario()) == 1001


def test_connection_without_init_is_closed_with_4408(
    rx_server: LiveServer, settings: SettingsWrapper, transactional_db: None
) -> None:
    _tune(settings, CONNECTION_INIT_TIMEOUT=0.3)

    async def scenario() -> int | None:
        async with connect(rx_server.ws_url, subprotocols=SUBPROTOCOLS) as ws:
            return await _closed_code(ws)

    assert asyncio.run(scenario()) == 4408


def test_foreign_origin_is_refused_and_own_origin_accepted(
    rx_server: LiveServer, transactional_db: None
) -> None:
    async def scenario(origin: str) -> str:
        async with connect(
            rx_server.ws_url, subprotocols=SUBPROTOCOLS, additional_headers={"Origin": origin}
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            return str((await _receive(ws))["type"])

    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(scenario("http://evil.example"))
    assert refused.value.response.status_code == 403
    assert asyncio.run(scenario(rx_server.url)) == "connection_ack"


def test_django_session_authenticates_the_socket(board_world: BoardWorld, rx_server: LiveServer) -> None:
    world = board_world
    with httpx.Client(base_url=rx_server.url, timeout=10) as browser:
        page = browser.get("/admin/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert csrf is not None
        world.bob.is_staff = True
        world.bob.save()
        response = browser.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": csrf.group(1), "username": "bob", "password": "secret"},
        )
        assert response.status_code == 302
        session = browser.cookies["sessionid"]

    async def scenario() -> dict[str, Any]:
        async with connect(
            rx_server.ws_url,
            subprotocols=SUBPROTOCOLS,
            additional_headers={"Cookie": f"sessionid={session}"},
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert await _receive(ws) == {"type": "connection_ack"}
            variables = {"boardId": str(world.board_a.pk)}
            await ws.send(
                json.dumps(
                    {
                        "type": "subscribe",
                        "id": "s",
                        "payload": {"query": BOARD_SUBSCRIPTION, "variables": variables},
                    }
                )
            )
            return await _receive(ws)

    message = asyncio.run(scenario())
    assert message["type"] == "next"
    assert message["payload"]["data"]["boardChannel"]["reset"] is True


async def test_a_client_that_does_not_read_is_disconnected(settings: SettingsWrapper) -> None:
    _tune(settings, SEND_QUEUE_SIZE=3)
    closed: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.close":
            closed.set_result(message)
        elif message["type"] == "websocket.send":
            await asyncio.Event().wait()  # the socket's buffers are full: this send never returns

    scope = {"type": "websocket", "headers": [], "subprotocols": [PROTOCOL]}
    connection = Connection(scope, send, get_schema_index())
    for number in range(6):
        connection.push(f'{{"n":{number}}}')
        await asyncio.sleep(0)
    message = await asyncio.wait_for(closed, 5)
    assert message["code"] == 1013


@pytest.mark.django_db
def test_close_codes_reach_the_asgi_server_as_plain_ints() -> None:
    """daphne (autobahn) refuses a close code that is not exactly an ``int``: an IntEnum member would
    turn a 4403 into an abnormal closure."""
    from rxgraphql.errors import CloseCode

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def scenario() -> None:
        connection = Connection({"type": "websocket", "headers": []}, send, get_schema_index())
        await connection.close(CloseCode.FORBIDDEN, "Forbidden")

    asyncio.run(scenario())
    assert sent == [{"type": "websocket.close", "code": 4403, "reason": "Forbidden"}]
    assert type(sent[0]["code"]) is int
