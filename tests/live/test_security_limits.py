"""Inputs beyond the limits, sent to a real server: each gets a clear refusal naming the limit, the worker
stays alive, no data changes, and other clients of the worker keep being served meanwhile."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from board.channels import BoardChannel
from board.models import Card
from pytest_django.fixtures import Settings as SettingsWrapper
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from rxgraphql.conf import rx_settings
from tests.support.live import LiveClient
from tests.support.live_server import LiveServer
from tests.support.world import BoardWorld

PROTOCOL = Subprotocol("graphql-transport-ws")
ClientFactory = Callable[[], LiveClient]


def _tune(settings: SettingsWrapper, **values: Any) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, **values}


def _post(server: LiveServer, body: Any, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Token {token}"} if token else {}
    if isinstance(body, str | bytes):
        headers["Content-Type"] = "application/json"
        return httpx.post(server.graphql_url, content=body, headers=headers, timeout=30)
    return httpx.post(server.graphql_url, json=body, headers=headers, timeout=30)


def _limit_of(payload: dict[str, Any]) -> str:
    (error,) = payload["errors"]
    assert error["extensions"]["code"] == "LIMIT_EXCEEDED", error
    limit: str = error["extensions"]["limit"]
    assert limit in error["message"]  # the message names the setting
    return limit


def _alive(server: LiveServer) -> None:
    """The worker still answers."""
    response = _post(server, {"query": "{ me }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"me": None}}


def test_documents_beyond_each_limit_are_refused_over_http(
    board_world: BoardWorld, rx_server: LiveServer
) -> None:
    board = str(board_world.board_a.pk)
    deep = "{ __schema { types { fields { type " + "{ ofType " * 25 + "{ name }" + " }" * 25 + " } } } }"
    cases = {
        "MAX_DOCUMENT_BYTES": "{ " + "me " * 300_000 + "}",  # 878 KiB, the size of the reported attack
        "MAX_TOKENS": "{ " + "me " * 6_000 + "}",
        "MAX_DEPTH": deep,
        "MAX_ALIASES": "{ "
        + " ".join(f"b{i}: boardChannel(boardId: {board}) {{ id }}" for i in range(300))
        + " }",
        "MAX_FIELDS": "{ " + "me " * 1_500 + "}",
    }
    for limit, query in cases.items():
        response = _post(rx_server, {"query": query}, board_world.token(board_world.bob))
        assert response.status_code == 200, (limit, response.text[:200])
        assert _limit_of(response.json()) == limit
        assert response.json()["data"] is None
    _alive(rx_server)


def test_a_streamed_operation_is_held_to_the_limits_too(rx_server: LiveServer) -> None:
    response = httpx.post(
        rx_server.graphql_url,
        json={"query": "subscription { " + "__typename " * 1_500 + "}"},
        headers={"Accept": 'multipart/mixed;subscriptionSpec="1.0", application/json'},
        timeout=30,
    )
    assert _limit_of(response.json()) == "MAX_FIELDS"


def test_aliased_writes_beyond_the_limit_change_nothing(
    board_world: BoardWorld, rx_server: LiveServer
) -> None:
    card = Card.objects.get(title="Ship")
    target = f"boardId: {board_world.board_a.pk}, id: {card.pk}"
    saves = " ".join(
        f'w{i}: boardChannelSaveCard({target}, data: {{title: "w{i}"}}) {{ code }}' for i in range(30)
    )
    response = _post(rx_server, {"query": f"mutation {{ {saves} }}"}, board_world.token(board_world.bob))
    assert _limit_of(response.json()) == "MAX_ALIASES"
    card.refresh_from_db()
    assert card.title == "Ship"


def test_documents_beyond_the_limits_are_refused_over_the_websocket(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    client = ws_client().connect(board_world.token(board_world.bob))
    for limit, query in {
        "MAX_DOCUMENT_BYTES": "{ " + "me " * 300_000 + "}",
        "MAX_TOKENS": "{ " + "me " * 6_000 + "}",
        "MAX_FIELDS": "subscription { " + "__typename " * 1_500 + "}",
    }.items():
        sub = client.subscribe(query)
        message = client.aio.run(sub.next_message())
        assert message.kind == "error", message
        (error,) = message.payload
        assert error["extensions"]["limit"] == limit
    assert client.execute("{ me }") == {"data": {"me": "bob"}}  # the socket is still usable


def test_request_body_beyond_the_limit_is_a_413(rx_server: LiveServer) -> None:
    body = json.dumps({"query": "{ me }", "variables": {"pad": "x" * 2_000_000}})
    response = _post(rx_server, body)
    assert response.status_code == 413
    assert _limit_of(response.json()) == "MAX_REQUEST_BYTES"
    _alive(rx_server)


def test_malformed_and_deeply_nested_json_is_a_400(rx_server: LiveServer) -> None:
    for body in (
        "{",
        '{"query": "{ me }"',
        "[" * 100_000,
        '{"query": "{ me }", "variables": ' + "[" * 50_000,
    ):
        response = _post(rx_server, body)
        assert response.status_code == 400, (body[:20], response.status_code)
    _alive(rx_server)


def test_frame_beyond_the_limit_closes_with_1009(rx_server: LiveServer) -> None:
    async def scenario() -> int | None:
        async with connect(rx_server.ws_url, subprotocols=[PROTOCOL], max_size=None) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await ws.recv()) == {"type": "connection_ack"}
            await ws.send(json.dumps({"type": "ping", "payload": {"pad": "x" * 1_500_000}}))
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed:
                return ws.close_code

    assert asyncio.run(scenario()) == 1009
    _alive(rx_server)


def test_operations_per_socket_are_limited(
    board_world: BoardWorld, ws_client: ClientFactory, settings: SettingsWrapper
) -> None:
    _tune(settings, MAX_SUBSCRIPTIONS=3)
    client = ws_client().connect(board_world.token(board_world.bob))
    watchers = [client.watch_board(board_world.board_a.pk) for _ in range(3)]
    for watcher in watchers:
        watcher.ready()
    refused = client.subscribe("subscription { __typename }")
    message = client.aio.run(refused.next_message())
    assert message.kind == "error"
    assert message.payload[0]["extensions"]["limit"] == "MAX_SUBSCRIPTIONS"
    watchers[0].stop()
    # One ended: there is room again.
    assert client.execute("{ me }") == {"data": {"me": "bob"}}


async def _ping_rtts(ws: ClientConnection, done: asyncio.Event) -> list[float]:
    """Round trips of protocol pings, one after the other, until ``done``."""
    rtts: list[float] = []
    while not done.is_set():
        start = time.perf_counter()
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await asyncio.wait_for(ws.recv(), 60)).get("type") != "pong":
            pass
        rtts.append(time.perf_counter() - start)
    return rtts


def test_a_large_document_does_not_stall_the_other_sockets(
    rx_server: LiveServer, settings: SettingsWrapper
) -> None:
    # Limits raised so that the server really parses and measures a 300 KB document (seconds of CPU).
    _tune(settings, MAX_DOCUMENT_BYTES=10**8, MAX_TOKENS=10**8, MAX_REQUEST_BYTES=10**8)
    attack = json.dumps({"query": "{ " + "me " * 100_000 + "}"})

    async def scenario() -> tuple[float, list[float], dict[str, Any]]:
        async with connect(rx_server.ws_url, subprotocols=[PROTOCOL]) as probe:
            await probe.send(json.dumps({"type": "connection_init"}))
            assert json.loads(await probe.recv()) == {"type": "connection_ack"}
            done = asyncio.Event()
            pinging = asyncio.create_task(_ping_rtts(probe, done))
            async with httpx.AsyncClient(timeout=120) as http:
                start = time.perf_counter()
                response = await http.post(
                    rx_server.graphql_url, content=attack, headers={"Content-Type": "application/json"}
                )
                duration = time.perf_counter() - start
            done.set()
            rtts = await pinging
            return duration, rtts, response.json()

    duration, rtts, payload = asyncio.run(scenario())
    assert _limit_of(payload) == "MAX_FIELDS"
    # While the document was being refused, the other socket was answered many times, each time in a
    # fraction of the attack's own duration (refused on the event loop, one ping waits for all of it;
    # the worker threads' parsing still shares the interpreter lock with the loop, hence half, not less).
    assert len(rtts) >= 5, (duration, rtts)
    assert max(rtts) < duration / 2, (duration, max(rtts))


def test_a_slow_permission_check_does_not_delay_another_clients_ack(
    board_world: BoardWorld, ws_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered = threading.Event()
    release = threading.Event()
    original = BoardChannel.has_permission

    def slow(self: BoardChannel, user: Any, board_id: int) -> bool:
        entered.set()
        assert release.wait(30)
        return original(self, user, board_id)

    monkeypatch.setattr(BoardChannel, "has_permission", slow)
    slow_client = ws_client().connect(board_world.token(board_world.bob))
    watcher = slow_client.watch_board(board_world.board_a.pk)
    try:
        assert entered.wait(10)
        # The permission check holds one thread; another client authenticates (a database lookup
        # in a thread too) and is acknowledged meanwhile.
        other = ws_client().connect(board_world.token(board_world.alice))
        assert other.execute("{ me }") == {"data": {"me": "alice"}}
        assert not release.is_set()
    finally:
        release.set()
    assert watcher.ready()[0]["reset"] is True


def test_one_request_holds_at_most_half_of_the_sync_threads(
    board_world: BoardWorld, rx_server: LiveServer, ws_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Condition()
    inside = {"now": 0, "most": 0}
    release = threading.Event()
    original = BoardChannel.has_permission

    def slow(self: BoardChannel, user: Any, board_id: int) -> bool:
        with lock:
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
            lock.notify_all()
        assert release.wait(30)
        with lock:
            inside["now"] -= 1
        return original(self, user, board_id)

    monkeypatch.setattr(BoardChannel, "has_permission", slow)
    board = board_world.board_a.pk
    query = "{ " + " ".join(f"b{i}: boardChannel(boardId: {board}) {{ id }}" for i in range(20)) + " }"
    responses: list[httpx.Response] = []
    attack = threading.Thread(
        target=lambda: responses.append(
            _post(rx_server, {"query": query}, board_world.token(board_world.bob))
        )
    )
    half = rx_settings().sync_threads // 2
    attack.start()
    try:
        with lock:
            assert lock.wait_for(lambda: inside["now"] == half, 10)
        # The other half serves other clients meanwhile.
        other = ws_client().connect(board_world.token(board_world.alice))
        assert other.execute("{ me }") == {"data": {"me": "alice"}}
        assert inside["now"] == half
    finally:
        release.set()
        attack.join(30)
    (response,) = responses
    assert len(response.json()["data"]) == 20
    assert inside["most"] == half
