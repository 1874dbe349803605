"""The subscription side of a process: heating anchors, snapshots, and one broker subscription per anchor.

Listeners (the GraphQL fan-out groups) register with an anchor's feed before they read the snapshot, so
no patch committed in between is missed; the feed decodes each patch once for all of them.

Per-user records (``Meta.user_key``) are settled here: each listener names the user it renders for, and
gets the patches and snapshots already cut to what that user may see (see ownership.py). A patch every
user reads alike is handed to every listener as the same object, and a patch cut for one user as one
object to each of that user's listeners, so that a listener rendering once per distinct patch object
renders a patch once per document, and per user only for the users owning one of its per-user records
(every other user shares one view: ``users_named``). Patches of an
anchor that arrive faster than the loop fans them out are merged (see coalesce.py): one render and one
send carry them all, so a burst of saves costs the subscribers what one save costs.

Heating renders in a worker thread and the cache insert runs off the loop too (see the caches'
``finish_heat``), so a large anchor never freezes the other sockets of the worker.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from channels.db import database_sync_to_async
from django.apps import apps

from . import metrics
from .backends import get_broker, get_cache
from .backends.base import Unsubscribe
from .capture import watching_changed
from .coalesce import merge_patches
from .conf import rx_settings
from .flusher import flusher
from .notices import SystemFeed
from .ownership import outsider, patch_for, reads_alike, users_named
from .propagate import heat_records
from .records import Record, RecordKey
from .stream import Notice, Patch, Snapshot, anchor_topic
from .user_resume import user_snapshot

if TYPE_CHECKING:
    from .channel import ContextChannel

logger = logging.getLogger("rxgraphql.feeds")


class Listener(Protocol):
    """What an anchor's feed hands its patches and notices to."""

    #: The user whose records it may see (None on channels without per-user records).
    @property
    def user(self) -> str | None: ...

    def deliver(self, patch: Patch) -> None:
        """A patch as this listener's user may see it (a listener class may also define
        ``deliver_all(listeners, patch)``, handed every listener of that class that gets this object)."""

    def notify(self, notice: Notice) -> None: ...


class AnchorFeed:
    """Live patches of one anchor in this process, shared by every listener of the anchor.

    Creating a feed starts its opening (the broker subscription, then the retain that keeps the anchor hot)
    on the running loop without waiting: ``snapshot()`` awaits it, so no patch committed after the
    snapshot's read can be missed. After a broker outage the feed catches its listeners up from the cache.
    """

    #: Merge the patches queued while the loop was busy into one delivery.
    coalesce = True

    def __init__(self, channel: type[ContextChannel], anchor: str, on_empty: Callable[[], None]) -> None:
        self.channel = channel
        self._pending: list[Patch] = []
        self._layers = {layer.type_name: layer for layer in channel._meta.layers}
        self.anchor = anchor
        self.listeners: set[Listener] = set()
        self.epoch = ""
        self.version = 0
        self._on_empty = on_empty
        self._unsubscribe: Unsubscribe | None = None
        self.closed = False
        self._catching_up = False
        self._again = False
        self.opened: asyncio.Future[None] = asyncio.ensure_future(self._open())
        self.opened.add_done_callback(_ignore_result)

    @property
    def ttl(self) -> float:
        ttl = self.channel._meta.cache_ttl
        return rx_settings().cache_ttl if ttl is None else ttl

    async def _open(self) -> None:
        self._unsubscribe = await get_broker().subscribe(
            anchor_topic(self.channel._meta.channel_name, self.anchor), self._on_message
        )
        await get_cache().retain(self.channel._meta.channel_name, self.anchor, self.ttl)
        watching_changed()  # with triggers, the propagator listens to the anchor's tables

    def _on_message(self, data: bytes) -> None:
        notice = Notice.decode(data)
        if notice is not None:
            self._drain()  # the patches before it stay before it
            self.notify(notice)
            return
        try:
            patch = Patch.decode(data)
        except Exception:
            logger.exception("undecodable patch on %s", self.anchor)
            return
        if not self.coalesce:
            self._dispatch(patch)
            return
        # Delivered once the loop has run what is ready: the messages already waiting join this one.
        self._pending.append(patch)
        if len(self._pending) == 1:
            asyncio.get_running_loop().call_soon(self._drain)

    def _key_of(self, record: Record) -> RecordKey:
        layer = self._layers[record["__typename"]]
        return (layer.type_name, str(record[layer.pk_field]))

    def _drain(self) -> None:
        pending, self._pending = self._pending, []
        with metrics.frames_batched():  # one counter update for every group's frames
            for patch in merge_patches(pending, self._key_of):
                self._dispatch(patch)

    @metrics.traced("rxgraphql.fanout")
    def _dispatch(self, patch: Patch) -> None:
        if self.epoch and patch.epoch != self.epoch and not patch.reset:
            # A patch of another epoch follows no state the listeners hold: a late one of the epoch a reset
            # replaced, or the first of one whose reset this feed missed. The cache knows which: a catch-up
            # from the feed's cursor brings nothing in the first case and the new epoch's state in the second.
            logger.info("patch of epoch %s on %s (at %s): catching up", patch.epoch, self.anchor, self.epoch)
            asyncio.ensure_future(self.catch_up()).add_done_callback(_ignore_result)
            return
        # The listeners drop what they already have; the feed only keeps the cursor catch-ups start from.
        if patch.epoch != self.epoch or patch.version > self.version:
            self.epoch, self.version = patch.epoch, patch.version
        if not self.channel._meta.per_user or reads_alike(patch, self._layers):
            self._hand_all(list(self.listeners), patch)
            return
        named = users_named(patch, self._layers)
        others = outsider(named)
        # Listeners by the view they get, handed one view after the other (a renderer keeps the last one).
        by_view: dict[str | None, list[Listener]] = defaultdict(list)
        for listener in list(self.listeners):
            user = listener.user
            by_view[others if user is not None and user not in named else user].append(listener)
        for user, listeners in by_view.items():
            view = patch_for(patch, user, self._layers)
            if view is not None:
                self._hand_all(listeners, view)

    def _hand_all(self, listeners: list[Listener], patch: Patch) -> None:
        """Hand one patch object to these listeners; a listener class with ``deliver_all`` takes all of its
        instances in one call (the fan-out groups: one per member on a per-user channel)."""
        kinds: dict[type[Listener], list[Listener]] = {}
        for listener in listeners:
            kinds.setdefault(type(listener), []).append(listener)
        for kind, same in kinds.items():
            deliver_all: Callable[[list[Listener], Patch], None] | None = getattr(kind, "deliver_all", None)
            if deliver_all is None:
                for listener in same:
                    self._hand(listener, patch)
                continue
            try:
                deliver_all(same, patch)
            except Exception:
                logger.exception("the listeners of %s failed", self.anchor)

    def _hand(self, listener: Listener, patch: Patch) -> None:
        try:
            listener.deliver(patch)
        except Exception:
            logger.exception("a listener of %s failed", self.anchor)

    def notify(self, notice: Notice) -> None:
        for listener in list(self.listeners):
            try:
                listener.notify(notice)
            except Exception:
                logger.exception("a listener of %s failed", self.anchor)

    def seen(self, epoch: str, version: int) -> None:
        """A snapshot was served before any patch arrived: catch-ups start from its cursor."""
        if not self.epoch:
            self.epoch, self.version = epoch, version

    async def catch_up(self) -> None:
        """Deliver what was published while the broker was unreachable (changes since the last cursor).

        Retried with backoff while the servers come back; a catch-up asked for while one runs (Redis
        restarted, then its former state was wiped) runs once more after it.
        """
        if self._catching_up:
            self._again = True
            return
        self._catching_up = True
        delay = 0.1
        try:
            while not self.closed and self.listeners:
                self._again = False
                try:
                    await self._catch_up_once()
                except Exception as error:
                    logger.warning("rxgraphql catch-up of %s failed (%r); retrying", self.anchor, error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                if not self._again:
                    return
        finally:
            self._catching_up = False

    async def _catch_up_once(self) -> None:
        since = (self.epoch, self.version) if self.epoch else None
        found = await snapshot(self.channel, self.anchor, since)
        logger.info(
            "catch-up of %s since %s: %s",
            self.anchor,
            since,
            None if found is None else (found.epoch, found.version, found.reset, len(found.records)),
        )
        if found is None or self.closed:
            return
        if not found.reset and not found.records and not found.deleted:
            return
        self._drain()
        self._dispatch(
            Patch(
                channel=self.channel._meta.channel_name,
                anchor=self.anchor,
                epoch=found.epoch,
                version=found.version,
                records=found.records,
                deleted=found.deleted,
                reset=found.reset,
            )
        )

    def remove(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        if not self.listeners and not self.closed:
            self.closed = True
            self._on_empty()
            asyncio.ensure_future(self._close()).add_done_callback(_ignore_result)

    async def _close(self) -> None:
        try:
            await self.opened
        except Exception:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        await get_cache().release(self.channel._meta.channel_name, self.anchor, self.ttl)


def _ignore_result(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("rxgraphql feed: %r", future.exception())


class FeedHub:
    """The feeds of this process, created on first listener and closed after the last one leaves."""

    def __init__(self) -> None:
        self.feeds: dict[tuple[str, str], AnchorFeed] = {}
        self._brokers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.system = SystemFeed(self._system_notice)
        #: Receivers of system messages besides the feeds' listeners (subscriptions that may hold no anchor).
        self.system_listeners: set[Callable[[Notice], None]] = set()

    def join(self, channel: type[ContextChannel], anchor: str, listener: Listener) -> AnchorFeed:
        broker = get_broker()
        if broker not in self._brokers:
            self._brokers.add(broker)
            broker.on_reconnect(self.catch_up)
        key = (channel._meta.channel_name, anchor)
        feed = self.feeds.get(key)
        if feed is None:
            feed = self.feeds[key] = AnchorFeed(channel, anchor, lambda: self._forget(key))
        feed.listeners.add(listener)
        self.system.ensure_open()
        return feed

    def listen_system(self, listener: Callable[[Notice], None]) -> Callable[[], None]:
        """Receive every system message; returns the function that stops it."""
        self.system.ensure_open()
        self.system_listeners.add(listener)
        return lambda: self.system_listeners.discard(listener)

    def _system_notice(self, notice: Notice) -> None:
        for feed in list(self.feeds.values()):
            feed.notify(notice)
        for listener in list(self.system_listeners):
            try:
                listener(notice)
            except Exception:
                logger.exception("a system message listener failed")

    def catch_up(self) -> None:
        """After a broker outage: every feed of the running loop delivers what its listeners missed."""
        loop = asyncio.get_running_loop()
        for feed in list(self.feeds.values()):
            if feed.opened.get_loop() is loop:
                asyncio.ensure_future(feed.catch_up()).add_done_callback(_ignore_result)

    def _forget(self, key: tuple[str, str]) -> None:
        self.feeds.pop(key, None)


hub = FeedHub()


async def snapshot_for(
    channel: type[ContextChannel], anchor: str, since: tuple[str, int] | None, user: str | None
) -> Snapshot | None:
    """What a new subscriber of ``user`` catches up from (the changes since ``since`` when they can be
    served); None when the anchor is gone. Join the anchor's feed first, so no later patch is missed."""
    if not channel._meta.per_user:
        return await snapshot(channel, anchor, since)
    full = await snapshot(channel, anchor, None)
    if full is None:
        return None
    layers = {layer.type_name: layer for layer in channel._meta.layers}
    return await user_snapshot(full, channel._meta.channel_name, anchor, since, user, layers)


async def snapshot(
    channel: type[ContextChannel], anchor: str, since: tuple[str, int] | None
) -> Snapshot | None:
    """The anchor's state for a new subscriber, heating it when cold; None when the anchor is gone."""
    cache = get_cache()
    name = channel._meta.channel_name
    feed = hub.feeds.get((name, anchor))
    if feed is not None:
        await asyncio.shield(feed.opened)
    while True:
        found = await cache.snapshot(name, anchor, since)
        if found is not None:
            if feed is not None:
                feed.seen(found.epoch, found.version)
            return found
        if await cache.begin_heat(name, anchor):
            watching_changed()  # heating now counts as watched: listened to before the render ends
            started = metrics.heat_started()
            try:
                heated = await database_sync_to_async(heat_records)(channel, anchor)
            except BaseException:
                await asyncio.shield(cache.abort_heat(name, anchor))
                raise
            if heated is None:
                await cache.abort_heat(name, anchor)
                return None
            root, records = heated
            backlog = await cache.finish_heat(name, anchor, root, records)
            metrics.heat_finished(name, started)
            if backlog:
                flusher.submit((apps.get_model(label), pk) for label, pk in backlog)
        else:
            await cache.wait_hot(name, anchor)
