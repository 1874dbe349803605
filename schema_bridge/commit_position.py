"""The position of a committed write in its anchor's stream, for the write's mutation result.

A client that shows a write optimistically keeps it until its store has applied the write's own commit:
the mutation answers the cursor of the anchor's stream once the write was propagated, and the client
settles the optimistic write exactly when its store's cursor reaches it (``codegen/runtime/optimistic.ts``).

The position is read after every change committed so far (the write's own included) is propagated (by
the outbox propagators with trigger capture, by this process's flusher with signals), so every event at or
after it contains the write. It is read from the anchor's cache
incrementally, from the cursor this process's feed of the anchor last saw; without such a feed (no
subscription of the anchor in this process, e.g. a write over plain HTTP to another worker) or when the
propagation does not end in time, there is no exact position to give and the result's ``cursor`` is
null (the client then falls back to waiting for the echo of every record it touched).
"""

from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async

from rxgraphql.backends import get_cache
from rxgraphql.capture import wait_propagated
from rxgraphql.channel import ContextChannel
from rxgraphql.feeds import hub
from rxgraphql.stream import format_cursor

#: How long a write's result waits for its propagation before answering without a position.
PROPAGATION_WAIT_SECONDS = 5.0


async def commit_position(channel_cls: type[ContextChannel], anchor: str) -> str | None:
    """The anchor's cursor once this process's pending changes are propagated; None when unknown."""
    feed = hub.feeds.get((channel_cls._meta.channel_name, anchor))
    if feed is None:
        return None
    if not await database_sync_to_async(wait_propagated)(PROPAGATION_WAIT_SECONDS):
        return None
    await asyncio.shield(feed.opened)
    since = (feed.epoch, feed.version) if feed.epoch else None
    if since is None:
        return None
    found = await get_cache().snapshot(channel_cls._meta.channel_name, anchor, since)
    if found is None:
        return None
    return format_cursor(found.epoch, found.version)
