"""Notifications: messages for the subscribers of an anchor (or one user of it), and system messages.

They travel on the same broker topics as patches (any thread, any process with a shared broker) but are
not records: they are not cached, not versioned and not replayed on resume. A system message reaches every
live subscription of every process that shares the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .backends import get_broker
from .backends.base import Unsubscribe
from .stream import SYSTEM_TOPIC, Notice


def publish_notice(topic: str, payload: dict[str, Any], user_id: Any = None) -> None:
    if not isinstance(payload, dict):
        raise TypeError("a notification is a dict of JSON values")
    get_broker().publish(topic, Notice(dict(payload), None if user_id is None else str(user_id)).encode())


def broadcast_system_message(source: str, message: str) -> None:
    """Send ``{"type": "system", "source": ..., "message": ...}`` to every live subscription."""
    publish_notice(SYSTEM_TOPIC, {"type": "system", "source": source, "message": message})


class SystemFeed:
    """This process's one subscription to the system topic, handing notices to a callback."""

    def __init__(self, deliver: Callable[[Notice], None]) -> None:
        self._deliver = deliver
        self._unsubscribe: Unsubscribe | None = None
        self._opening: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def ensure_open(self) -> None:
        """Subscribe once per event loop (a test or a reloaded server may start a new one)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self.close()
            self._loop = loop
            self._opening = loop.create_task(self._open())

    async def _open(self) -> None:
        self._unsubscribe = await get_broker().subscribe(SYSTEM_TOPIC, self._on_message)

    def _on_message(self, data: bytes) -> None:
        notice = Notice.decode(data)
        if notice is not None:
            self._deliver(notice)

    def close(self) -> None:
        # A closed loop took its subscription with it: there is nothing left to undo there.
        if self._loop is not None and not self._loop.is_closed():
            if self._unsubscribe is not None:
                self._unsubscribe()
            elif self._opening is not None:
                self._opening.cancel()
        self._unsubscribe = None
        self._opening = None
        self._loop = None
