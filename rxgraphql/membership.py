"""``Meta.auto_update``: committed saves of anchor rows, announced to the list subscriptions of every process.

The write path publishes the primary keys of the anchor-model rows saved or deleted in each committed
batch on one broker topic per list channel (only for channels with ``auto_update``). Each process keeps
one subscription to that topic while it has live list subscriptions of the channel; on a message it
reads the rows once and hands them to each subscription, which asks its channel's ``is_visible``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson
from channels.db import database_sync_to_async

from .backends import get_broker
from .backends.base import Broker, Unsubscribe
from .stream import membership_topic

if TYPE_CHECKING:
    from .channel import ContextChannel

logger = logging.getLogger("rxgraphql.membership")


def publish_membership(broker: Broker, channel: type[ContextChannel], pks: Iterable[str]) -> None:
    """Announce saved or deleted anchor rows of ``channel`` (from the write path, after commit)."""
    found = list(dict.fromkeys(pks))
    if found:
        broker.publish(membership_topic(channel._meta.channel_name), orjson.dumps({"anchors": found}))


#: Told of the committed anchor rows: anchor id -> the row, or None when it was deleted.
Reconsider = Callable[[dict[str, Any]], Awaitable[None]]


def _rows(channel: type[ContextChannel], pks: list[str]) -> dict[str, Any]:
    model = channel._meta.layers.root.model
    found = {str(row.pk): row for row in model._default_manager.filter(pk__in=pks)}
    return {pk: found.get(pk) for pk in pks}


class _ChannelTopic:
    """This process's subscription to one channel's membership topic, on one event loop."""

    def __init__(self, channel: type[ContextChannel]) -> None:
        self.channel = channel
        self.listeners: set[Reconsider] = set()
        self.loop = asyncio.get_running_loop()
        self.unsubscribe: Unsubscribe | None = None
        self.closed = False
        self.order = asyncio.Lock()
        self.opening = self.loop.create_task(self._open())

    async def _open(self) -> None:
        topic = membership_topic(self.channel._meta.channel_name)
        unsubscribe = await get_broker().subscribe(topic, self._on_message)
        if self.closed:
            unsubscribe()
        else:
            self.unsubscribe = unsubscribe

    async def ready(self) -> None:
        await asyncio.shield(self.opening)

    def _on_message(self, data: bytes) -> None:
        try:
            pks = [str(pk) for pk in orjson.loads(data)["anchors"]]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            logger.warning("undecodable membership message on %s", self.channel._meta.channel_name)
            return
        self.loop.create_task(self._dispatch(pks))

    async def _dispatch(self, pks: list[str]) -> None:
        # One message at a time, in arrival order: a row saved then deleted must end up removed.
        async with self.order:
            if not self.listeners:
                return
            rows = await database_sync_to_async(_rows)(self.channel, pks)
            await asyncio.gather(*(self._hand(listener, rows) for listener in list(self.listeners)))

    async def _hand(self, listener: Reconsider, rows: dict[str, Any]) -> None:
        try:
            await listener(rows)
        except Exception:
            logger.exception("a list subscription of %s failed to update", self.channel._meta.channel_name)

    def close(self) -> None:
        self.closed = True
        if self.unsubscribe is not None and not self.loop.is_closed():
            self.unsubscribe()
        self.unsubscribe = None


class MembershipFeeds:
    """The membership topics this process listens to, opened with their first listener."""

    def __init__(self) -> None:
        self.topics: dict[str, _ChannelTopic] = {}

    async def join(self, channel: type[ContextChannel], listener: Reconsider) -> None:
        """Listen from now on: returns once the broker subscription is in place."""
        topic = self.topics.get(channel._meta.channel_name)
        if topic is None or topic.closed or topic.loop is not asyncio.get_running_loop():
            topic = self.topics[channel._meta.channel_name] = _ChannelTopic(channel)
        topic.listeners.add(listener)
        await topic.ready()

    def leave(self, channel: type[ContextChannel], listener: Reconsider) -> None:
        topic = self.topics.get(channel._meta.channel_name)
        if topic is None:
            return
        topic.listeners.discard(listener)
        if not topic.listeners:
            topic.close()
            del self.topics[channel._meta.channel_name]


membership = MembershipFeeds()
