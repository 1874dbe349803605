"""The channel-layer groups a live channel instance joined, and the task handing their events to it.

Channel-layer events of the groups the instance joined (``group_add``) are read by one task per
instance and handed to its ``@consumer`` methods (sync ones run in a thread). The subscription
(subscription.py) owns one of these for its instance and closes it when it ends.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied

from rxgraphql.actions import ActionError

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

logger = logging.getLogger("rxgraphql.session")


class ConsumerGroups:
    """One channel instance's channel-layer groups, read by one task while it is in any."""

    def __init__(self, channel: ContextChannel) -> None:
        self.channel = channel
        self.layer: Any = None
        self.layer_channel: str | None = None
        self.groups: set[str] = set()
        self.reader: asyncio.Task[None] | None = None

    async def add(self, group: str) -> None:
        if self.layer_channel is None:
            self.layer = get_channel_layer()
            if self.layer is None:
                raise RuntimeError("group_add needs CHANNEL_LAYERS in the settings")
            self.layer_channel = await self.layer.new_channel()
            self.reader = asyncio.create_task(self._read())
        await self.layer.group_add(group, self.layer_channel)
        self.groups.add(group)

    async def discard(self, group: str) -> None:
        if self.layer_channel is not None and group in self.groups:
            await self.layer.group_discard(group, self.layer_channel)
            self.groups.discard(group)

    async def _read(self) -> None:
        assert self.layer_channel is not None
        handlers = type(self.channel)._meta.consumers
        while True:
            message = await self.layer.receive(self.layer_channel)
            name = handlers.get(str(message.get("type")))
            if name is None:
                logger.warning("%s has no @consumer for %r", type(self.channel).__name__, message.get("type"))
                continue
            method = getattr(self.channel, name)
            try:
                if inspect.iscoroutinefunction(method):
                    await method(message)
                else:
                    await database_sync_to_async(method)(message)
            except (ActionError, PermissionError, PermissionDenied) as refusal:
                logger.warning("@consumer %s refused %r: %s", name, message.get("type"), refusal)
            except Exception:
                logger.exception("@consumer %s failed", name)

    async def close(self) -> None:
        for group in list(self.groups):
            await self.discard(group)
        if self.reader is not None:
            self.reader.cancel()
