"""The bench's agent inside a measured worker: a long-lived writer thread and an event-loop lag probe.

Saves of B1/B5 must not be made inside an HTTP request of the worker they measure (a request adds its own
thread hop, middleware and connection handling to the figure, and a real writer is often a job, a command or
another service). So every worker the bench starts (``bench.asgi``, ``bench.naive``) runs this agent when
``RXGRAPHQL_BENCH_AGENT_PORT`` is set: one thread listening on that loopback port for line-delimited JSON
commands from the bench process, making the saves itself with its own database connection, one at a time.

Commands (one JSON object a line, one answer a line):

- ``{"save": pk, "title": t}``: ``Card.save(update_fields=["title"])`` of card ``pk`` (autocommit); answers
  ``{"t0": monotonic}`` read just before ``save()``, on the clock the subscriber process stamps arrivals with;
- ``{"paced": [[pk, title], ...], "rate": r}``: the same saves started ``1/r`` s apart (paced by this thread);
  answers ``{"t0": [...], "achieved": saves/s}``;
- ``{"lag": "reset"}`` / ``{"lag": "read"}``: the longest gap (s) between two ticks of a probe coroutine on
  the worker's event loop since the last reset; the probe sleeps ``PROBE_INTERVAL`` between ticks, so an idle
  loop reads about that much.

The probe starts at the first ASGI call of the worker (uvicorn runs with ``--lifespan off``), which is also
when the agent learns the worker's event loop (``loop``) for code that must reach it from the writer thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

PROBE_INTERVAL = 0.005
PORT_VARIABLE = "RXGRAPHQL_BENCH_AGENT_PORT"

App = Callable[[Any, Any, Any], Awaitable[None]]  # an ASGI application (scope, receive, send)


class LagProbe:
    """A coroutine that ticks every ``PROBE_INTERVAL`` and keeps the longest gap since ``reset``."""

    def __init__(self) -> None:
        self.longest = 0.0
        self.reset_at = time.monotonic()

    def reset(self) -> None:
        """Forget the gaps so far (a gap in progress counts from now)."""
        self.reset_at = time.monotonic()
        self.longest = 0.0

    async def run(self) -> None:
        """Tick forever."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(PROBE_INTERVAL)
            now = time.monotonic()
            gap = now - max(last, self.reset_at)
            if gap > self.longest:
                self.longest = gap
            last = now


class Agent:
    """The writer thread and the lag probe of one worker."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.probe = LagProbe()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_known = threading.Event()
        self._probe_task: asyncio.Task[None] | None = None
        self._cards: dict[int, Any] = {}
        self._listener = socket.create_server(("127.0.0.1", port))
        threading.Thread(target=self._serve, name="bench-agent", daemon=True).start()

    def wrap(self, app: App) -> App:
        """The ASGI app with the probe started at its first call."""

        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if self._probe_task is None:
                self.loop = asyncio.get_running_loop()
                self._probe_task = self.loop.create_task(self.probe.run())
                self.loop_known.set()
            await app(scope, receive, send)

        return wrapped

    # -- commands ------------------------------------------------------------------------------

    def _serve(self) -> None:
        while True:
            conn, _address = self._listener.accept()
            threading.Thread(
                target=self._session, args=(conn,), name="bench-agent-session", daemon=True
            ).start()

    def _session(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            for line in stream:
                answer = self._command(json.loads(line))
                stream.write(json.dumps(answer).encode() + b"\n")
                stream.flush()

    def _command(self, command: dict[str, Any]) -> dict[str, Any]:
        if "save" in command:
            return {"t0": self._save(int(command["save"]), str(command["title"]))}
        if "paced" in command:
            return self._paced(command["paced"], float(command["rate"]))
        if command.get("lag") == "reset":
            self.probe.reset()
            return {"ok": True}
        if command.get("lag") == "read":
            return {"longest": self.probe.longest, "running": self._probe_task is not None}
        return {"error": f"unknown command {command!r}"}

    def _card(self, pk: int) -> Any:
        card = self._cards.get(pk)
        if card is None:
            from board.models import Card

            card = self._cards[pk] = Card.objects.select_related("column").get(pk=pk)
        return card

    def _save(self, pk: int, title: str) -> float:
        card = self._card(pk)
        card.title = title
        started = time.monotonic()
        card.save(update_fields=["title"])
        return started

    def _paced(self, saves: list[list[Any]], rate: float) -> dict[str, Any]:
        for pk, _title in saves:
            self._card(int(pk))
        starts: list[float] = []
        begin = time.monotonic()
        for i, (pk, title) in enumerate(saves):
            pause = begin + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # pacing the writer to the rate, not waiting for an event
            starts.append(self._save(int(pk), str(title)))
        span = starts[-1] - starts[0] if len(starts) > 1 else 0.0
        achieved = (len(starts) - 1) / span if span > 0 else float(rate)
        return {"t0": starts, "achieved": achieved}


_agent: Agent | None = None


def install(app: App) -> App:
    """Start the agent if the bench asked for one (``RXGRAPHQL_BENCH_AGENT_PORT``); the app to serve."""
    global _agent
    port = os.environ.get(PORT_VARIABLE)
    if not port:
        return app
    if _agent is None:
        _agent = Agent(int(port))
    return _agent.wrap(app)


def current() -> Agent | None:
    """This worker's agent, if it runs one."""
    return _agent
