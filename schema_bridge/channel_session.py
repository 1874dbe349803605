"""The websocket side of a live channel instance: runtime-state events and channel-layer groups.

Runtime state belongs to one subscription, so its events are rendered for that subscriber alone.
Channel-layer events of the groups the instance joined are read by one task per instance and handed to
its ``@consumer`` methods (sync ones run in a thread).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import TYPE_CHECKING, Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied

from rxgraphql.actions import ActionError

from .fanout import event
from .python_types import mapped

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

    from .websocket import Connection


class Renderer(Protocol):
    def render(self, root: dict[str, Any]) -> str: ...


class Output(Protocol):
    """Where a subscription's own events go: its operation on its socket."""

    connection: Connection

    @property
    def live(self) -> bool: ...

    def cursor(self) -> str: ...

    def frame(self, payload: str) -> str: ...


logger = logging.getLogger("rxgraphql.session")


def runtime_root(channel: ContextChannel, root: dict[str, Any]) -> dict[str, Any]:
    """An event root carrying the instance's runtime state."""
    runtime = type(channel).RuntimeState
    if runtime is None:
        return root
    kind = mapped(runtime, f"{type(channel).__name__}RuntimeState")
    return {**root, "runtime": kind.to_graphql(channel.runtime_values())}


class WebsocketChannelSession:
    def __init__(self, channel: ContextChannel, group: Renderer, sink: Output) -> None:
        self.channel = channel
        self.group = group
        self.sink = sink
        self.layer: Any = None
        self.layer_channel: str | None = None
        self.groups: set[str] = set()
        self.reader: asyncio.Task[None] | None = None

    async def runtime_changed(self) -> None:
        if not self.sink.live:
            return  # the snapshot's first event carries the runtime state
        root = runtime_root(self.channel, event(self.sink.cursor(), False, True, [], []))
        await self.sink.connection.push_wait(self.sink.frame(self.group.render(root)))

    async def group_add(self, group: str) -> None:
        if self.layer_channel is None:
            self.layer = get_channel_layer()
            if self.layer is None:
                raise RuntimeError("group_add needs CHANNEL_LAYERS in the settings")
            self.layer_channel = await self.layer.new_channel()
            self.reader = asyncio.create_task(self._read())
        await self.layer.group_add(group, self.layer_channel)
        self.groups.add(group)

    async def group_discard(self, group: str) -> None:
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
            await self.group_discard(group)
        if self.reader is not None:
            self.reader.cancel()
