"""Frames written straight to uvicorn's transport: the bytes websockets would send, only while the socket is
open and writable, and the same patches arrive whether the client negotiated compression or not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Generator
from typing import Any

import pytest
from board.models import Card
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.streams import StreamReader
from websockets.typing import Subprotocol

from schema_bridge import direct_send
from schema_bridge.direct_send import DirectWriter, frame_bytes
from tests.support.live_server import LiveServer
from tests.support.rebuild import BOARD_SUBSCRIPTION
from tests.support.world import BoardWorld

PROTOCOL = Subprotocol("graphql-transport-ws")


def _parsed(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser: Generator[None, None, Frame] = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the frame was incomplete")


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 200_000])
def test_a_frame_is_what_websockets_parses_as_one_text_message(size: int) -> None:
    payload = ("é" * size).encode()[:size]
    frame = _parsed(frame_bytes(payload))
    assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, payload)


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return self.closing


class _Conn:
    def __init__(self) -> None:
        self.state = State.OPEN
        self.extensions: list[Any] = []


class _Protocol:
    """The attributes of uvicorn's websockets-sansio protocol that the writer reads."""

    def __init__(self) -> None:
        self.transport = _Transport()
        self.conn = _Conn()
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = False
        self.close_sent = False


def test_the_writer_writes_only_while_the_socket_is_open_and_writable() -> None:
    protocol = _Protocol()
    writer = DirectWriter(protocol, State.OPEN)
    assert writer.write('{"n":1}') == 7
    assert protocol.transport.written == [frame_bytes(b'{"n":1}')]
    protocol.writable.clear()  # the transport paused: send waits for it instead
    assert writer.write('{"n":2}') is None
    protocol.writable.set()
    protocol.conn.state = State.CLOSING
    assert writer.write('{"n":3}') is None
    protocol.conn.state = State.OPEN
    protocol.transport.closing = True
    assert writer.write('{"n":4}') is None
    protocol.transport.closing = False
    protocol.close_sent = True
    assert writer.write('{"n":5}') is None
    assert len(protocol.transport.written) == 1


def test_only_uvicorns_websockets_sansio_send_gets_a_writer() -> None:
    async def send(message: dict[str, Any]) -> None:
        pass

    assert direct_send.direct_writer(send) is None
    assert direct_send.direct_writer(_Protocol().writable.wait) is None


@pytest.mark.parametrize("compression", ["deflate", None])
def test_patches_arrive_whole_with_and_without_compression(
    board_world: BoardWorld, rx_server: LiveServer, compression: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[int] = []
    original = DirectWriter.write

    def counting(self: DirectWriter, text: str) -> int | None:
        size = original(self, text)
        if size is not None:
            written.append(size)
        return size

    monkeypatch.setattr(DirectWriter, "write", counting)
    world = board_world
    card = Card.objects.get(title="Ship")
    token = world.token(world.alice)

    async def scenario() -> list[str]:
        async with connect(
            rx_server.ws_url, subprotocols=[PROTOCOL], compression=compression, max_size=None
        ) as ws:
            init = {"type": "connection_init", "payload": {"authorization": f"Token {token}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv()) == {"type": "connection_ack"}
            subscribe = {"query": BOARD_SUBSCRIPTION, "variables": {"boardId": str(world.board_a.pk)}}
            await ws.send(json.dumps({"id": "s", "type": "subscribe", "payload": subscribe}))
            while not json.loads(await ws.recv())["payload"]["data"]["boardChannel"]["ready"]:
                pass
            seen: list[str] = []
            for number in range(3):
                text = f"direct {number} " + "x" * 70_000 * number  # 0, 70 kB, 140 kB: each header size
                await asyncio.to_thread(_describe, card.pk, text)
                while True:
                    event = json.loads(await ws.recv())["payload"]["data"]["boardChannel"]
                    key = ("Card", str(card.pk))
                    found = [r for r in event["records"] if (r["__typename"], r["id"]) == key]
                    if found and found[0].get("description") == text:
                        seen.append(text.split(" ")[1])
                        break
            return seen

    assert asyncio.run(scenario()) == ["0", "1", "2"]
    assert written  # the live frames went straight to the transport


def _describe(pk: int, text: str) -> None:
    card = Card.objects.get(pk=pk)
    card.description = text
    card.save()
