"""One value per event loop: the asyncio clients a backend opens on the loop that uses them.

An asyncio client belongs to the loop it was created on, and a process may run several loops one after
the other or at once (a test per loop, a reloaded server, a thread with a loop of its own). ``PerLoop``
builds a loop's value on its first use there, drops the values of loops that closed, and closes every
value on its own loop when the backend closes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

T = TypeVar("T")

Closer = Callable[[T], Coroutine[Any, Any, None]]


class PerLoop(Generic[T]):
    """The value of each event loop of this process, built by ``build(loop)`` on the loop's first use."""

    def __init__(self, build: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._build = build
        self._values: dict[asyncio.AbstractEventLoop, T] = {}
        self._lock = threading.Lock()
        self._closing: set[asyncio.Task[None]] = set()

    def get(self) -> T:
        """The running loop's value (built now if the loop has none)."""
        loop = asyncio.get_running_loop()
        value = self._values.get(loop)
        if value is not None:
            return value
        with self._lock:
            for closed in [other for other in self._values if other.is_closed()]:
                del self._values[closed]
            value = self._values.get(loop)
            if value is None:
                value = self._values[loop] = self._build(loop)
            return value

    def values(self) -> list[T]:
        """The values of the loops that are still open."""
        with self._lock:
            return [value for loop, value in self._values.items() if not loop.is_closed()]

    def close(self, aclose: Closer[T]) -> None:
        """Forget every value and close each on its own loop, from whichever thread calls.

        On the caller's running loop the closing is a task that runs once the caller yields; on a loop
        running in another thread it is handed to that loop; a loop that is not running runs it to the
        end before this returns. A closed loop can run nothing: its values are only forgotten.
        """
        with self._lock:
            values, self._values = self._values, {}
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, value in values.items():
            if loop.is_closed():
                continue
            if loop is current:
                task = loop.create_task(aclose(value))
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            elif loop.is_running():
                asyncio.run_coroutine_threadsafe(aclose(value), loop)
            else:
                _run_to_end(loop, aclose(value))


def _run_to_end(loop: asyncio.AbstractEventLoop, coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a loop that is not running until ``coroutine`` ends, in a thread of its own: this thread may
    be running a loop already."""
    thread = threading.Thread(target=loop.run_until_complete, args=(coroutine,), name="rxgraphql-close")
    thread.start()
    thread.join()
