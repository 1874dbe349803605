"""The fixed-cost floor of B1: the same UPDATE, one re-read of the row, one broadcast.

``python -m bench.floor PORT`` (the database named by ``RXGRAPHQL_BENCH_DATABASE_URL``). Clients connect to
``/sub`` and are greeted once registered. The writer connects to ``/control`` and sends
``{"marker": "fan-<k>", "size": bytes, "card": pk}``; the server reads the clock (``time.monotonic``),
runs the statement ``Card.save(update_fields=["title"])`` sends (``UPDATE "board_card" SET "title" = ...``,
autocommit) on one kept-open psycopg connection, reads the row back (``SELECT * ... WHERE id = ...``),
encodes it as JSON padded to ``size`` bytes (the size of our patch), sends that frame to every client with
``websockets.broadcast`` and answers the reading and the seconds the two statements took.

No GraphQL, no ORM, no per-client work: the least any Python server can do to deliver a committed change
to every subscriber. It runs on uvloop, as uvicorn runs the measured workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

import psycopg
import uvloop
from psycopg.rows import dict_row
from websockets.asyncio.server import ServerConnection, broadcast, serve

UPDATE = 'UPDATE "board_card" SET "title" = %s WHERE "board_card"."id" = %s'
REREAD = 'SELECT * FROM "board_card" WHERE "board_card"."id" = %s'

clients: set[ServerConnection] = set()


class Floor:
    """The database connection and the control handler."""

    def __init__(self, database: psycopg.AsyncConnection[dict[str, object]]) -> None:
        self.database = database

    async def change(self, marker: str, size: int, card: int) -> dict[str, float]:
        """UPDATE, re-read, broadcast; the start reading and the database seconds."""
        started = time.monotonic()
        await self.database.execute(UPDATE, (marker, card))
        cursor = await self.database.execute(REREAD, (card,))
        row = await cursor.fetchone()
        read = time.monotonic()
        frame = json.dumps({"card": row}, default=str).ljust(size)
        broadcast(clients, frame)
        return {"t0": started, "database": read - started}

    async def handler(self, ws: ServerConnection) -> None:
        """Register a subscriber, or serve the writer's triggers."""
        if ws.request is not None and ws.request.path == "/control":
            async for message in ws:
                trigger = json.loads(message)
                answer = await self.change(trigger["marker"], int(trigger["size"]), int(trigger["card"]))
                await ws.send(json.dumps(answer))
            return
        clients.add(ws)
        try:
            await ws.send("registered")
            await ws.wait_closed()
        finally:
            clients.discard(ws)


async def _main(port: int) -> None:
    url = os.environ["RXGRAPHQL_BENCH_DATABASE_URL"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row) as database:
        floor = Floor(database)
        async with serve(floor.handler, "127.0.0.1", port, ping_interval=None, backlog=2048):
            await asyncio.Future()


def main() -> None:
    """Entry point (see the module docstring)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(_main(int(sys.argv[1])))


if __name__ == "__main__":
    main()
