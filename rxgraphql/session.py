"""What a channel instance can do while a subscription is live: runtime state, groups, lifecycle hooks.

The transport (the websocket server) binds a :class:`ChannelSession` to each subscribed instance for the
life of its subscription (``async with channel.live(session): ...``); the instance's methods delegate to
it, so channel code stays independent of the transport.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar, Protocol


class ChannelSession(Protocol):
    """The transport's side of one live subscription of a channel instance."""

    async def runtime_changed(self) -> None:
        """Send the instance's runtime state to its subscriber."""

    async def group_add(self, group: str) -> None: ...

    async def group_discard(self, group: str) -> None: ...

    # List channels (see lists.py): the anchors streamed, in order, and the changes of that list.
    @property
    def anchors(self) -> list[str]: ...

    async def add_anchor(self, anchor: str, at_start: bool) -> bool: ...

    async def remove_anchor(self, anchor: str) -> bool: ...

    async def clear_anchors(self) -> None: ...

    async def close(self) -> None:
        """The subscription ended: leave the channel-layer groups."""


class LiveChannelMixin:
    """Runtime state, channel-layer groups and lifecycle hooks of a ContextChannel instance.

    Declare ``RuntimeState`` as a dataclass whose defaults are the initial values::

        @dataclass
        class RuntimeState:
            typing: list[str] = field(default_factory=list)
    """

    RuntimeState: ClassVar[type[Any] | None] = None
    runtime_state: Any
    _session: ChannelSession | None

    def _init_live(self) -> None:
        runtime = type(self).RuntimeState
        self.runtime_state = runtime() if runtime is not None else None
        self._session = None

    @asynccontextmanager
    async def live(self, session: ChannelSession) -> AsyncIterator[None]:
        """Bind the transport's session while the subscription runs; closed and unbound after it."""
        if self._session is not None:
            raise RuntimeError(f"{type(self).__name__} instance already has a live subscription")
        self._session = session
        try:
            yield
        finally:
            try:
                await session.close()
            finally:
                self._session = None

    def runtime_values(self) -> dict[str, Any] | None:
        if self.runtime_state is None:
            return None
        return dataclasses.asdict(self.runtime_state)

    async def set_runtime_var(self, name: str, value: Any) -> None:
        """Change one field of the runtime state; the subscriber receives the new state."""
        if self.runtime_state is None or name not in {f.name for f in dataclasses.fields(self.runtime_state)}:
            raise AttributeError(f"{type(self).__name__}.RuntimeState has no field {name!r}")
        setattr(self.runtime_state, name, value)
        if self._session is not None:
            await self._session.runtime_changed()

    async def group_add(self, group: str) -> None:
        """Receive the channel-layer events sent to ``group`` (handled by ``@consumer`` methods)."""
        if self._session is None:
            raise RuntimeError("group_add needs a live subscription")
        await self._session.group_add(group)

    async def group_discard(self, group: str) -> None:
        if self._session is not None:
            await self._session.group_discard(group)

    async def on_connect(self, since: str | None) -> None:
        """Called once the subscription is allowed, before its snapshot; ``since`` is the resume cursor."""

    async def on_disconnect(self) -> None:
        """Called when the subscription ends (completed by the client, or the socket closed)."""
