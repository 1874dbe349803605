"""Waiting for an event that has no notification to await: poll it, with a deadline only as a hang guard.

The deadline never asserts how long something took; it turns a hang into a failure that says what never
happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


def wait_until(check: Callable[[], bool], what: str, guard: float = 30.0, every: float = 0.05) -> None:
    """Return once ``check()`` is true; fail naming ``what`` if it is not within ``guard`` seconds."""
    deadline = time.monotonic() + guard
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within the hang guard of {guard:.0f}s: {what}")
        time.sleep(every)


async def async_wait_until(
    check: Callable[[], Awaitable[bool]], what: str, guard: float = 30.0, every: float = 0.05
) -> None:
    """``wait_until`` for checks that are coroutines, without blocking the event loop."""
    deadline = time.monotonic() + guard
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened within the hang guard of {guard:.0f}s: {what}")
        await asyncio.sleep(every)
