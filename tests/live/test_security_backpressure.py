"""A client that stops reading is disconnected with 1013 under uvicorn and under daphne (whose
``websocket.send`` never waits), while the other subscribers' patches keep arriving."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from board.models import Card
from pytest_django.fixtures import Settings as SettingsWrapper
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.support.daphne_server import DaphneServer
from tests.support.gql_ws import GraphQLWsClient
from tests.support.live_server import LiveServer
from tests.support.rebuild import BOARD_SUBSCRIPTION
from tests.support.world import BoardWorld

PROTOCOL = Subprotocol("graphql-transport-ws")
LIMITS = {"SEND_BUFFER_BYTES": 200_000}
SAVE = (
    "mutation($b: ID!, $id: ID!, $data: CardInput!) "
    "{ r: boardChannelSaveCard(boardId: $b, id: $id, data: $data) { ok code } }"
)
SAVES = 12
PAD = 50_000  # bytes of description per save: the slow client falls 200 kB behind after four


@pytest.fixture(params=["uvicorn", "daphne"])
def ws_url(
    request: pytest.FixtureRequest, board_world: BoardWorld, settings: SettingsWrapper, tmp_path: Path
) -> Iterator[str]:
    if request.param == "uvicorn":
        server: LiveServer = request.getfixturevalue("rx_server")
        settings.RXGRAPHQL = {**settings.RXGRAPHQL, **LIMITS}
        yield server.ws_url
        return
    request.getfixturevalue("_release_test_database")
    daphne = DaphneServer(tmp_path / "daphne.log", LIMITS).start()
    try:
        yield daphne.ws_url
    finally:
        daphne.stop()


@pytest.mark.parametrize("stall", ["application", "socket"])
def test_a_client_that_stops_reading_is_closed_with_1013(
    board_world: BoardWorld, ws_url: str, stall: str, request: pytest.FixtureRequest
) -> None:
    """``application``: the client's websocket library reads the socket, its code never reads a message
    (a frozen page); ``socket``: nothing reads the socket at all (the library pauses after one frame)."""
    world = board_world
    board = str(world.board_a.pk)
    card = str(Card.objects.get(title="Ship").pk)
    token = world.token(world.alice)

    async def scenario() -> tuple[int | None, list[str]]:
        max_queue = None if stall == "application" else 1
        async with connect(ws_url, subprotocols=[PROTOCOL], max_queue=max_queue, max_size=None) as slow:
            await slow.send(
                json.dumps({"type": "connection_init", "payload": {"authorization": f"Token {token}"}})
            )
            assert json.loads(await slow.recv()) == {"type": "connection_ack"}
            subscribe = {"query": BOARD_SUBSCRIPTION, "variables": {"boardId": board}}
            await slow.send(json.dumps({"id": "s", "type": "subscribe", "payload": subscribe}))
            healthy = await GraphQLWsClient(ws_url).connect(token)
            writer = await GraphQLWsClient(ws_url).connect(token)
            watching = await healthy.subscribe(BOARD_SUBSCRIPTION, {"boardId": board})
            await watching.until_ready()
            seen: list[str] = []
            for number in range(SAVES):
                description = f"{number}:" + "x" * PAD
                result = await writer.execute(
                    SAVE, {"b": board, "id": card, "data": {"description": description}}
                )
                assert result["data"]["r"]["ok"] is True, result
                while True:
                    event = await watching.next_event()
                    found = [r for r in event["records"] if r["__typename"] == "Card" and r["id"] == card]
                    if found and found[0].get("description") == description:
                        seen.append(description.split(":")[0])
                        break
            await healthy.close()
            await writer.close()
            try:
                while True:  # read what was sent before the server gave up, then its close frame
                    await asyncio.wait_for(slow.recv(), 30)
            except ConnectionClosed:
                return slow.close_code, seen

    code, seen = asyncio.run(scenario())
    assert seen == [str(n) for n in range(SAVES)]  # the other subscriber got every patch, in order
    if stall == "socket" and "daphne" in request.node.callspec.id:
        # autobahn drops a connection whose peer does not answer the close frame within a second; the
        # frames before it, the close frame included, are lost with the connection.
        assert code in (1013, 1006)
    else:
        assert code == 1013
