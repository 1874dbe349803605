"""The subscription side of a process: heating anchors, snapshots, and one broker subscription per anchor.

Listeners (the GraphQL fan-out groups) register with an anchor's feed before they read the snapshot, so
no patch committed in between is missed; the feed decodes each patch once for all of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from channels.db import database_sync_to_async
from django.apps import apps

from .backends import Patch, Snapshot, get_broker, get_cache
from .backends.base import Unsubscribe
from .conf import rx_settings
from .flusher import flusher
from .propagate import heat_records, topic

if TYPE_CHECKING:
    from .channel import ContextChannel

logger = logging.getLogger("rxgraphql.feeds")


class Listener(Protocol):
    def deliver(self, patch: Patch) -> None: ...


class AnchorFeed:
    """Live patches of one anchor in this process, shared by every listener of the anchor."""

    def __init__(self, channel: type[ContextChannel], anchor: str, on_empty: Callable[[], None]) -> None:
        self.channel = channel
        self.anchor = anchor
        self.listeners: set[Listener] = set()
        self._on_empty = on_empty
        self._unsubscribe: Unsubscribe = get_broker().subscribe(
            topic(channel.channel_name, anchor), self._on_message
        )
        get_cache().retain(channel.channel_name, anchor)

    def _on_message(self, data: bytes) -> None:
        try:
            patch = Patch.decode(data)
        except Exception:
            logger.exception("undecodable patch on %s", self.anchor)
            return
        for listener in list(self.listeners):
            try:
                listener.deliver(patch)
            except Exception:
                logger.exception("a listener of %s failed", self.anchor)

    def remove(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        if not self.listeners:
            self._unsubscribe()
            ttl = self.channel.cache_ttl
            get_cache().release(
                self.channel.channel_name,
                self.anchor,
                rx_settings().cache_ttl if ttl is None else ttl,
            )
            self._on_empty()


class FeedHub:
    """The feeds of this process, created on first listener and closed after the last one leaves."""

    def __init__(self) -> None:
        self.feeds: dict[tuple[str, str], AnchorFeed] = {}

    def join(self, channel: type[ContextChannel], anchor: str, listener: Listener) -> AnchorFeed:
        key = (channel.channel_name, anchor)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = AnchorFeed(channel, anchor, lambda: self._forget(key))
        feed.listeners.add(listener)
        return feed

    def _forget(self, key: tuple[str, str]) -> None:
        self.feeds.pop(key, None)

    def reset(self) -> None:
        self.feeds.clear()


hub = FeedHub()


def parse_cursor(cursor: str | None) -> tuple[str, int] | None:
    """``"<epoch>.<version>"`` as sent in every event; None (a full snapshot) when malformed."""
    if not cursor:
        return None
    epoch, _, version = cursor.rpartition(".")
    if not epoch or not version.isdigit():
        return None
    return epoch, int(version)


def format_cursor(epoch: str, version: int) -> str:
    return f"{epoch}.{version}"


async def snapshot(
    channel: type[ContextChannel], anchor: str, since: tuple[str, int] | None
) -> Snapshot | None:
    """The anchor's state for a new subscriber, heating it when cold; None when the anchor is gone."""
    cache = get_cache()
    name = channel.channel_name
    while True:
        found = await cache.snapshot(name, anchor, since)
        if found is not None:
            return found
        if cache.begin_heat(name, anchor):
            try:
                heated = await database_sync_to_async(heat_records)(channel, anchor)
            except BaseException:
                cache.abort_heat(name, anchor)
                raise
            if heated is None:
                cache.abort_heat(name, anchor)
                return None
            root, records = heated
            backlog = cache.finish_heat(name, anchor, root, records)
            if backlog:
                flusher.submit((apps.get_model(label), pk) for label, pk in backlog)
        else:
            await cache.wait_hot(name, anchor)
