"""Writing a socket's text frames straight to the ASGI server's transport, when the server allows it.

uvicorn's websockets-sansio protocol runs ``websocket.send`` as a coroutine: every frame costs a
coroutine, an ``Event.wait`` and websockets' frame objects, about half of what a fan-out to 1000 sockets
spent besides the ``write`` system call itself. When that protocol's socket is open and writable, the same
bytes are written at once: without a negotiated extension a server's text frame is a 2-10 byte header and
the payload, unmasked (RFC 6455, section 5.2); with one (permessage-deflate) websockets frames it. A socket
in any other state, and any other server (daphne, wsproto, ...), goes through ``send`` as before, and so
does waiting for a paused transport.
"""

from __future__ import annotations

import struct
from typing import Any

_TEXT = 0x81  # FIN + opcode 1 (text)


def frame_bytes(payload: bytes) -> bytes:
    """An unfragmented, unmasked text frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((_TEXT, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", _TEXT, 126, size) + payload
    return struct.pack("!BBQ", _TEXT, 127, size) + payload


class DirectWriter:
    """Writes text frames on one uvicorn websockets-sansio protocol while it is open and writable."""

    def __init__(self, protocol: Any, open_state: Any) -> None:
        self._protocol = protocol
        self._open = open_state

    def write(self, text: str) -> int | None:
        """Write ``text`` as one frame and return its size in bytes; None when ``send`` must do it (the
        transport is paused or closing, the socket not open)."""
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or not protocol.writable.is_set():
            return None
        transport = protocol.transport
        conn = protocol.conn
        if conn.state is not self._open or transport.is_closing():
            return None
        payload = _encoded(text)
        if conn.extensions:
            conn.send_text(payload)
            transport.write(b"".join(conn.data_to_send()))
        else:
            transport.write(frame_bytes(payload))
        return len(payload)


_last: tuple[str, bytes] = ("", b"")


def _encoded(text: str) -> bytes:
    """``text`` in UTF-8; the sockets of one fan-out write the same frame object, encoded once."""
    global _last
    if _last[0] is not text:
        _last = (text, text.encode())
    return _last[1]


def direct_writer(send: Any) -> DirectWriter | None:
    """A writer for the ASGI ``send`` of an accepted websocket, if its server is one this module knows."""
    try:
        from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
        from websockets.protocol import State
    except ImportError:
        return None
    protocol = getattr(send, "__self__", None)
    if type(protocol) is not WebSocketsSansIOProtocol or getattr(send, "__func__", None) is not (
        WebSocketsSansIOProtocol.send
    ):
        return None
    needed = ("conn", "transport", "writable", "disconnected", "close_sent", "handshake_complete")
    if not all(hasattr(protocol, name) for name in needed) or not protocol.handshake_complete:
        return None
    return DirectWriter(protocol, State.OPEN)
