"""What starts a change in B1/B5, seen from the bench process: the agents' writer threads and the floor.

A trigger makes one change carrying the text ``fan-<marker>`` and returns the ``time.monotonic`` reading
taken just before it (in the process that made it; the clock is system-wide).
"""

from __future__ import annotations

import json
import socket
from typing import Any, Protocol


class Trigger(Protocol):
    """Starts one change carrying ``fan-<marker>``; returns the ``time.monotonic`` reading of its start."""

    def __call__(self, marker: int) -> float: ...

    def close(self) -> None: ...


class AgentClient:
    """A connection to the agent of one worker (``bench.agent``): one command, one answer."""

    def __init__(self, port: int, timeout: float = 300.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.stream = self.sock.makefile("rwb")

    def call(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command and wait for its answer."""
        self.stream.write(json.dumps(command).encode() + b"\n")
        self.stream.flush()
        line = self.stream.readline()
        if not line:
            raise ConnectionError("the agent closed its connection")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def lag_reset(self) -> None:
        """Start a new lag window."""
        self.call({"lag": "reset"})

    def lag(self) -> float:
        """The longest gap between probe ticks since the last reset (s)."""
        answer = self.call({"lag": "read"})
        if not answer["running"]:
            raise RuntimeError("the worker's lag probe is not running (no ASGI call yet)")
        return float(answer["longest"])

    def close(self) -> None:
        """Close the connection."""
        self.stream.close()
        self.sock.close()


class SaveTrigger:
    """``Card.save(update_fields=["title"])`` by the writer threads of the workers, alternating over workers
    and cards."""

    def __init__(self, agent_ports: list[int], card_ids: list[int]) -> None:
        self.agents = [AgentClient(port) for port in agent_ports]
        self.card_ids = card_ids
        self.count = 0

    def _next(self, marker: int) -> tuple[AgentClient, list[Any]]:
        agent = self.agents[self.count % len(self.agents)]
        card = self.card_ids[self.count % len(self.card_ids)]
        self.count += 1
        return agent, [card, f"fan-{marker}"]

    def __call__(self, marker: int) -> float:
        agent, (card, title) = self._next(marker)
        return float(agent.call({"save": card, "title": title})["t0"])

    def paced(self, markers: list[int], rate: float) -> tuple[list[float], float]:
        """Saves of ``markers`` started ``1/rate`` s apart by the first worker's writer thread; their start
        readings and the rate achieved."""
        saves = [self._next(marker)[1] for marker in markers]
        answer = self.agents[0].call({"paced": saves, "rate": rate})
        return [float(t) for t in answer["t0"]], float(answer["achieved"])

    def close(self) -> None:
        """Close the agent connections."""
        for agent in self.agents:
            agent.close()


class FloorTrigger:
    """Changes of ``bench.floor`` (UPDATE, re-read, broadcast) through its control socket."""

    def __init__(self, port: int, size: int, card_ids: list[int]) -> None:
        from websockets.sync.client import connect

        self.size = size
        self.card_ids = card_ids
        self.count = 0
        self.database_seconds: list[float] = []
        self.ws = connect(f"ws://127.0.0.1:{port}/control")

    def __call__(self, marker: int) -> float:
        card = self.card_ids[self.count % len(self.card_ids)]
        self.count += 1
        self.ws.send(json.dumps({"marker": f"fan-{marker}", "size": self.size, "card": card}))
        answer = json.loads(self.ws.recv())
        self.database_seconds.append(float(answer["database"]))
        return float(answer["t0"])

    def close(self) -> None:
        """Close the control socket."""
        self.ws.close()
