"""Driving the subscriber process (``bench.fanclients``) from the writer's side.

A thread reads the process's output lines; the writer waits on conditions for "N sockets ready" and
"marker k reached every socket", never on a fixed sleep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from bench.server import ROOT, raise_file_limit, stop_process


@dataclass(frozen=True)
class Arrival:
    """When the first and the last socket received one marker (``time.monotonic``); the message's size."""

    first: float
    last: float
    size: int


class Subscribers:
    """One ``bench.fanclients`` process; a context manager that stops it at the end."""

    def __init__(
        self, kind: str, urls: list[str], token: str | list[str] = "", board: int | None = None
    ) -> None:
        args = [sys.executable, "-m", "bench.fanclients", kind, ",".join(urls)]
        self._tokens: tempfile._TemporaryFileWrapper[str] | None = None
        if isinstance(token, list):
            self._tokens = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed by close())
                "w", prefix="rxgraphql-bench-tokens-", suffix=".txt"
            )
            self._tokens.write("\n".join(token) + "\n")
            self._tokens.flush()
            token = f"@{self._tokens.name}"
        if board is not None:
            args += [token, str(board)]
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=raise_file_limit,
        )
        self._changed = threading.Condition()
        self._arrivals: dict[int, Arrival] = {}
        self._answers: list[dict[str, Any]] = []
        self._ended = False
        self._reader = threading.Thread(target=self._read, name="bench-subscribers", daemon=True)
        self._reader.start()
        self.size = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            message = json.loads(line)
            with self._changed:
                if "done" in message:
                    self._arrivals[int(message["done"])] = Arrival(
                        message["first"], message["last"], message["bytes"]
                    )
                else:
                    self._answers.append(message)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def _wait(self, ready: Any, timeout: float, what: str) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: ready() or self._ended, timeout):
                raise TimeoutError(f"subscribers: no {what} within {timeout} s")
            if not ready():
                raise RuntimeError(f"the subscriber process exited ({self.process.poll()}) before {what}")

    def grow(self, total: int, timeout: float = 300.0) -> float:
        """Open sockets until ``total`` are subscribed; the seconds it took."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"grow": total}) + "\n")
        self.process.stdin.flush()
        self._wait(lambda: bool(self._answers), timeout, f"{total} subscribed sockets")
        with self._changed:
            answer = self._answers.pop(0)
        if "error" in answer:
            raise RuntimeError(f"a socket was refused: {answer['error']}")
        if answer["ready"] != total:
            raise RuntimeError(f"subscribers: {answer}")
        self.size = total
        return float(answer["seconds"])

    def arrival(self, marker: int, timeout: float = 60.0) -> Arrival:
        """Wait until every socket received ``marker``."""
        self._wait(lambda: marker in self._arrivals, timeout, f"arrival of marker {marker}")
        with self._changed:
            return self._arrivals.pop(marker)

    def arrived(self, marker: int) -> Arrival | None:
        """The arrival of ``marker`` if it is complete, without waiting."""
        with self._changed:
            return self._arrivals.pop(marker, None)

    def __enter__(self) -> Subscribers:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close stdin (the process closes its sockets and exits) and wait for it."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        stop_process(self.process)
        self._reader.join(5)
        if self._tokens is not None:
            self._tokens.close()
