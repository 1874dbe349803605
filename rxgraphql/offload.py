"""Work proportional to a snapshot's size, run off the event loop when the snapshot is large.

Cutting a snapshot of 10k records for a user or rendering its events takes the loop tens of milliseconds
at a time, during which every other socket of the worker waits. In a thread the same work only holds the
GIL for the interpreter's switch interval at a time, so the loop keeps serving the other sockets. A small
snapshot stays on the loop: a thread hop would cost it more than the work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

#: A snapshot (or one of its events) with at least this many records is handled in a thread.
OFF_LOOP_RECORDS = 200

P = ParamSpec("P")
T = TypeVar("T")


async def sized(size: int, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``: in a worker thread when ``size`` (records) is large, else right here."""
    if size >= OFF_LOOP_RECORDS:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return fn(*args, **kwargs)
