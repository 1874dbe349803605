"""The subscriber process of B1 and B5: many websockets in one asyncio process, driven over stdin/stdout.

Run by ``bench.subscribers.Subscribers`` as ``python -m bench.fanclients KIND URL[,URL...] [TOKEN BOARD]``,
apart from the process that makes the saves, so the writer's work does not delay the arrivals it times.
Sockets are spread round-robin over the URLs (the two workers of the Redis configuration). ``TOKEN`` may be
``@FILE``: one token a line, socket ``i`` authenticates with token ``i % count`` (distinct users). KIND:

- ``ours``: graphql-transport-ws, the board subscription of B2/B3; ready at the event with ``ready: true``;
- ``naive``: graphql-transport-ws, the subscription of ``bench.naive``; ready at its first event;
- ``raw``: the floor (``bench.floor``); ready at its greeting.

Commands, one JSON object a line on stdin: ``{"grow": N}`` opens sockets until N are ready and answers
``{"ready": N, "seconds": ...}`` (or ``{"error": ...}`` before exiting); end of input closes everything.
A save (or broadcast) is identified by a marker ``fan-<k>`` in the text it writes; when every socket has
received the message carrying marker k, the process prints ``{"done": k, "first": t, "last": t,
"bytes": n}``: the ``time.monotonic`` readings of the first and the last arrival and the size of the last
message. Server pings (protocol and graphql-transport-ws) are answered, so sockets can stay idle as long
as needed.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import uvloop

from bench.leanws import LeanSocket, open_socket
from bench.server import raise_file_limit
from bench.wsclient import BOARD_SUBSCRIPTION, PROTOCOL

NAIVE_SUBSCRIPTION = "subscription($boardId: ID!) { naiveBoard(boardId: $boardId) }"
MARKER = re.compile(rb"fan-(\d+)")
CONNECT_AT_ONCE = 64


@dataclass
class _Socket:
    """What one subscriber has seen."""

    ready: asyncio.Future[None]
    seen: set[int] = field(default_factory=set)
    live: bool = False


class Fleet:
    """All sockets of this process and the per-marker arrival counts."""

    def __init__(self, kind: str, urls: list[str], tokens: list[str], board: str) -> None:
        self.kind = kind
        self.urls = urls
        self.tokens = tokens
        self.board = board
        self.sockets: list[LeanSocket] = []
        self.counts: dict[int, int] = {}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.lost = 0

    # -- messages --------------------------------------------------------------------------------

    def on_message(self, sock: LeanSocket, payload: bytes, arrived: float) -> None:
        state = sock.state
        assert isinstance(state, _Socket)
        if self.kind == "raw":
            if not state.live:
                state.live = True
                state.ready.set_result(None)
                return
            self._markers(state, payload, arrived)
            return
        if b'"next"' in payload[:64]:
            if state.live:
                self._markers(state, payload, arrived)
            elif self.kind == "naive" or b'"ready":true' in payload:
                state.live = True
                state.ready.set_result(None)
            return
        message = orjson.loads(payload)
        kind = message.get("type")
        if kind == "ping":
            sock.send_text(b'{"type":"pong"}')
        elif kind == "connection_ack":
            query = BOARD_SUBSCRIPTION if self.kind == "ours" else NAIVE_SUBSCRIPTION
            variables = {"boardId": self.board}
            subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
            sock.send_text(orjson.dumps(subscribe))
        elif kind in ("error", "complete") and not state.ready.done():
            state.ready.set_exception(RuntimeError(f"subscription refused: {message}"))

    def _markers(self, state: _Socket, payload: bytes, arrived: float) -> None:
        for raw in MARKER.findall(payload):
            k = int(raw)
            if k in state.seen:
                continue
            state.seen.add(k)
            count = self.counts.get(k, 0) + 1
            self.counts[k] = count
            if count == 1:
                self.first[k] = arrived
            self.last[k] = arrived
            if count == len(self.sockets):
                done = {
                    "done": k,
                    "first": self.first.pop(k),
                    "last": self.last.pop(k),
                    "bytes": len(payload),
                }
                print(json.dumps(done), flush=True)
                del self.counts[k]

    # -- sockets ---------------------------------------------------------------------------------

    async def _open(self, index: int) -> LeanSocket:
        url = self.urls[index % len(self.urls)]
        subprotocol = None if self.kind == "raw" else PROTOCOL
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def on_message(sock: LeanSocket, payload: bytes, arrived: float) -> None:
            if sock.state is None:
                sock.state = _Socket(ready)
            self.on_message(sock, payload, arrived)

        sock = await open_socket(url, subprotocol, on_message)
        if sock.state is None:
            sock.state = _Socket(ready)
        if self.kind != "raw":
            token = self.tokens[index % len(self.tokens)]
            init = {"type": "connection_init", "payload": {"authorization": f"Token {token}"}}
            sock.send_text(orjson.dumps(init))
        sock.closed.add_done_callback(lambda _f: self._on_closed(ready))
        await ready
        return sock

    def _on_closed(self, ready: asyncio.Future[None]) -> None:
        if not ready.done():
            ready.set_exception(ConnectionError("socket closed before it was ready"))
        self.lost += 1

    async def grow(self, total: int) -> None:
        """Open sockets (``CONNECT_AT_ONCE`` at a time) until ``total`` are subscribed."""
        limit = asyncio.Semaphore(CONNECT_AT_ONCE)

        async def one(index: int) -> LeanSocket:
            async with limit:
                return await self._open(index)

        opened = await asyncio.gather(*(one(i) for i in range(len(self.sockets), total)))
        self.sockets.extend(opened)

    def close(self) -> None:
        """Close every socket."""
        for sock in self.sockets:
            sock.close()


async def _serve(fleet: Fleet) -> None:
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        started = time.monotonic()
        try:
            await fleet.grow(int(command["grow"]))
        except (RuntimeError, ConnectionError) as error:
            print(json.dumps({"error": str(error)}), flush=True)
            raise
        answer = {"ready": len(fleet.sockets), "seconds": time.monotonic() - started, "lost": fleet.lost}
        print(json.dumps(answer), flush=True)
    fleet.close()
    await asyncio.sleep(0)  # let the transports flush their close frames


def main() -> None:
    """Entry point (see the module docstring)."""
    raise_file_limit()
    kind, urls = sys.argv[1], sys.argv[2].split(",")
    token, board = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else ("", "")
    tokens = Path(token[1:]).read_text().split() if token.startswith("@") else [token]
    uvloop.run(_serve(Fleet(kind, urls, tokens, board)))


if __name__ == "__main__":
    main()
