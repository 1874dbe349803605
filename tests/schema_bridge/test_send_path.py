"""A socket's send path: direct writes, the queue only while a send waits, unread bytes bounded by pings."""

from __future__ import annotations

import asyncio
import json
import sys
import types
from typing import Any

from pytest_django.fixtures import Settings as SettingsWrapper

from schema_bridge.daphne_close import allow_registered_close_codes
from schema_bridge.schema import get_schema_index
from schema_bridge.websocket import PROTOCOL, Connection

SCOPE = {"type": "websocket", "headers": [], "subprotocols": [PROTOCOL]}


def _connection(send: Any) -> Connection:
    connection = Connection(SCOPE, send, get_schema_index())
    connection.acknowledged = True
    return connection


async def test_a_frame_is_written_at_once_when_nothing_waits() -> None:
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["text"])

    connection = _connection(send)
    connection.push('{"n":1}')
    assert sent == ['{"n":1}']  # before this coroutine yielded even once
    assert connection._flushing is None


async def test_frames_queue_behind_a_send_that_waits_and_keep_their_order() -> None:
    sent: list[str] = []
    gate = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if not gate.is_set():
            await gate.wait()
        sent.append(message["text"])

    connection = _connection(send)
    for number in range(5):
        connection.push(f'{{"n":{number}}}')
    assert sent == []
    assert connection._flushing is not None
    gate.set()
    await connection._flushing
    assert sent == [f'{{"n":{number}}}' for number in range(5)]
    assert connection._flushing is None
    connection.push('{"n":5}')
    assert sent[-1] == '{"n":5}'  # direct again


async def test_unread_bytes_beyond_the_limit_close_with_1013_and_pongs_keep_it_open(
    settings: SettingsWrapper,
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "SEND_BUFFER_BYTES": 1_000}
    sent: list[dict[str, Any]] = []
    closed = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            closed.set()

    reader = _connection(send)
    frame = json.dumps({"pad": "x" * 190})
    for _ in range(20):
        reader.push(frame)
        if any(m.get("text") == '{"type":"ping"}' for m in sent):
            reader._on_pong()  # the client read everything up to the ping
            sent.clear()
    assert not closed.is_set()

    stalled = _connection(send)
    for _ in range(20):
        stalled.push(frame)
    await asyncio.wait_for(closed.wait(), 5)
    assert [m["code"] for m in sent if m["type"] == "websocket.close"] == [1013]
    texts = [m["text"] for m in sent if m["type"] == "websocket.send"]
    assert sum(len(t) for t in texts if t != '{"type":"ping"}') <= 1_000


async def test_a_snapshot_waits_for_the_client_instead_of_closing(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "SEND_BUFFER_BYTES": 1_000}
    sent: list[str] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message.get("text", ""))

    connection = _connection(send)
    frame = json.dumps({"pad": "x" * 400})
    waiting = asyncio.create_task(connection.push_wait(frame))
    await waiting
    await connection.push_wait(frame)
    third = asyncio.create_task(connection.push_wait(frame))
    await asyncio.sleep(0)
    assert not third.done()  # 1200 bytes would be unread
    assert sent[-1] == '{"type":"ping"}'
    connection._on_pong()
    await asyncio.wait_for(third, 5)
    assert sent.count(frame) == 3


def test_daphne_may_send_the_registered_close_codes(monkeypatch: Any) -> None:
    calls: list[tuple[str, int | None]] = []

    class Protocol:
        def serverClose(self, code: int | None = None) -> None:
            calls.append(("sendClose", code))

        def sendCloseFrame(self, code: int | None = None, isReply: bool = False) -> None:
            calls.append(("sendCloseFrame", code))

    monkeypatch.setitem(sys.modules, "daphne.ws_protocol", types.SimpleNamespace(WebSocketProtocol=Protocol))
    allow_registered_close_codes()
    allow_registered_close_codes()  # once only
    Protocol().serverClose(1013)
    Protocol().serverClose(4403)
    assert calls == [("sendCloseFrame", 1013), ("sendClose", 4403)]
