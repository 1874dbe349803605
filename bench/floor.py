"""The floor of B1: a bare ``websockets`` server that broadcasts one frame to every connected client.

``python -m bench.floor PORT``. Clients connect to ``/sub`` and are greeted once registered. The writer
connects to ``/control`` and sends ``{"marker": "fan-<k>", "size": bytes}``; the server reads the clock
(``time.monotonic``), sends the marker padded to ``size`` bytes to every client with
``websockets.broadcast`` and answers the reading. No GraphQL, no database, no per-client work: the least
any server written in Python can do to deliver the same bytes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

from websockets.asyncio.server import ServerConnection, broadcast, serve

clients: set[ServerConnection] = set()


async def handler(ws: ServerConnection) -> None:
    """Register a subscriber, or serve the writer's triggers."""
    if ws.request is not None and ws.request.path == "/control":
        async for message in ws:
            trigger = json.loads(message)
            frame = trigger["marker"].ljust(int(trigger["size"]))
            started = time.monotonic()
            broadcast(clients, frame)
            await ws.send(json.dumps({"t0": started}))
        return
    clients.add(ws)
    try:
        await ws.send("registered")
        await ws.wait_closed()
    finally:
        clients.discard(ws)


async def _main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, ping_interval=None, backlog=2048):
        await asyncio.Future()


def main() -> None:
    """Entry point (see the module docstring)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_main(int(sys.argv[1])))


if __name__ == "__main__":
    main()
