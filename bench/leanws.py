"""A lean websocket client (asyncio protocol) for the fan-out and capacity benches.

Why not ``websockets``: one asyncio process receiving a frame on each of 1000 sockets spends about 60 µs
per frame in that library (frame objects, a queue and a task wake-up per message), so the delivery to the
last of 1000 clients measured ~60 ms even from a bare broadcast server: the client, not the server, was
measured. This protocol parses frames in ``data_received`` and hands each complete text message to a
callback with the time its bytes were read (``time.monotonic``, the clock the servers stamp triggers with).
Its processes run on uvloop, as the servers do: on asyncio's own loop the client spent about twice as
long per frame and was the process that saturated first under B5's sustained writes.

It speaks just enough RFC 6455 for a benchmark: an HTTP/1.1 upgrade, unfragmented or fragmented server
frames without extensions, masked client frames, answers to pings, and close.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from collections.abc import Callable
from typing import cast

OnMessage = Callable[["LeanSocket", bytes, float], None]

_TEXT, _BINARY, _CONTINUATION, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    size = len(payload)
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    key = os.urandom(4)
    return header + key + _mask(payload, key)


class LeanSocket(asyncio.Protocol):
    """One client websocket; ``on_message(socket, payload, arrived)`` gets every text or binary message."""

    def __init__(self, host: str, path: str, subprotocol: str | None, on_message: OnMessage) -> None:
        self.host = host
        self.path = path
        self.subprotocol = subprotocol
        self.on_message = on_message
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        self.state: object = None  # what the owner keeps per socket

    # -- asyncio.Protocol ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.subprotocol:
            lines.append(f"Sec-WebSocket-Protocol: {self.subprotocol}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        self._buffer += data
        if not self._upgraded:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[: self._buffer.find(b"\r\n")])
            del self._buffer[: end + 4]
            if b" 101 " not in status:
                self._fail(ConnectionError(f"upgrade refused: {status!r}"))
                return
            self._upgraded = True
            self.opened.set_result(None)
        self._parse(arrived)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the upgrade"))
        if not self.closed.done():
            self.closed.set_result(None)

    # -- frames ----------------------------------------------------------------------------------

    def _parse(self, arrived: float) -> None:
        buffer = self._buffer
        offset = 0
        while len(buffer) - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            size = second & 0x7F
            start = offset + 2
            if size == 126:
                if len(buffer) - offset < 4:
                    break
                (size,) = struct.unpack_from("!H", buffer, start)
                start += 2
            elif size == 127:
                if len(buffer) - offset < 10:
                    break
                (size,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            if len(buffer) < start + size:
                break
            payload = bytes(buffer[start : start + size])
            offset = start + size
            self._frame(first & 0x80 != 0, first & 0x0F, payload, arrived)
        del buffer[:offset]

    def _frame(self, fin: bool, opcode: int, payload: bytes, arrived: float) -> None:
        if opcode in (_TEXT, _BINARY, _CONTINUATION):
            if not fin:
                self._fragments.append(payload)
                return
            if self._fragments:
                payload = b"".join([*self._fragments, payload])
                self._fragments.clear()
            self.on_message(self, payload, arrived)
        elif opcode == _PING:
            self._write(_PONG, payload)
        elif opcode == _CLOSE:
            self._write(_CLOSE, payload[:2])
            if self.transport is not None:
                self.transport.close()

    # -- sending ---------------------------------------------------------------------------------

    def _write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(opcode, payload))

    def send_text(self, text: str | bytes) -> None:
        """Send one text message."""
        self._write(_TEXT, text.encode() if isinstance(text, str) else text)

    def close(self) -> None:
        """Send a close frame and close the connection."""
        self._write(_CLOSE, struct.pack("!H", 1000))
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


async def open_socket(url: str, subprotocol: str | None, on_message: OnMessage) -> LeanSocket:
    """Connect to ``ws://host:port/path`` and complete the upgrade."""
    assert url.startswith("ws://")
    hostport, _, path = url[len("ws://") :].partition("/")
    host, _, port = hostport.partition(":")
    loop = asyncio.get_running_loop()
    _transport, protocol = await loop.create_connection(
        lambda: LeanSocket(hostport, "/" + path, subprotocol, on_message), host, int(port or 80)
    )
    await protocol.opened
    return protocol
