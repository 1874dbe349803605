"""Embedded backends: the record cache and the broker in this process's memory.

They make single-process development work with no servers. Every structure is guarded by one lock
because the write path runs in a worker thread while subscribers read from the event loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

from ..heap import FREEZE_RECORDS, paused_gc, released
from ..records import Record, RecordKey
from .base import AnchorState, Broker, Expirable, Patch, RecordCache, Snapshot, Unsubscribe, no_lock

MAX_TOMBSTONES = 10_000


@dataclass
class _Anchor:
    channel: str
    anchor: str
    state: AnchorState = AnchorState.COLD
    epoch: str = ""
    version: int = 0
    root: RecordKey = ("", "")
    records: dict[RecordKey, Record] = field(default_factory=dict)
    refs: dict[RecordKey, tuple[RecordKey, ...]] = field(default_factory=dict)
    referrers: dict[RecordKey, set[RecordKey]] = field(default_factory=lambda: defaultdict(set))
    versions: dict[RecordKey, int] = field(default_factory=dict)
    tombstones: dict[RecordKey, int] = field(default_factory=dict)
    tombstone_floor: int = 0
    backlog: list[tuple[str, str]] = field(default_factory=list)
    subscribers: int = 0
    idle_since: float = 0.0
    ttl: float = 0.0
    expiry: threading.Timer | None = None
    waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[AnchorState]]] = field(default_factory=list)


class _MemoryEdit:
    """The AnchorEdit of the memory cache: changes the anchor in place and remembers what changed."""

    def __init__(self, cache: MemoryRecordCache, anchor: _Anchor) -> None:
        self._cache = cache
        self._anchor = anchor
        self.root = anchor.root
        self._touched: dict[RecordKey, bool] = {}  # key -> present after the edit

    def get(self, key: RecordKey) -> Record | None:
        return self._anchor.records.get(key)

    def referrers(self, key: RecordKey) -> Collection[RecordKey]:
        return self._anchor.referrers.get(key, set())

    def preload(self, keys: Iterable[RecordKey]) -> None:
        """Everything is in memory already."""

    def preload_referrers(self, keys: Iterable[RecordKey]) -> None:
        """Everything is in memory already."""

    def missing(self, keys: Iterable[RecordKey]) -> list[RecordKey]:
        return [key for key in keys if key not in self._anchor.records]

    def put(self, key: RecordKey, record: Record, refs: Iterable[RecordKey]) -> None:
        a = self._anchor
        new_refs = tuple(refs)
        old_refs = a.refs.get(key, ())
        if a.records.get(key) == record and old_refs == new_refs:
            return
        for ref in set(old_refs) - set(new_refs):
            a.referrers[ref].discard(key)
        for ref in set(new_refs) - set(old_refs):
            a.referrers[ref].add(key)
        if key not in a.records:
            self._cache._index[a.channel][key].add(a.anchor)
        a.records[key] = record
        a.refs[key] = new_refs
        self._touched[key] = True

    def remove(self, key: RecordKey) -> None:
        a = self._anchor
        if key not in a.records:
            return
        for ref in a.refs.pop(key, ()):
            a.referrers[ref].discard(key)
        del a.records[key]
        holders = self._cache._index[a.channel].get(key)
        if holders is not None:
            holders.discard(a.anchor)
            if not holders:
                del self._cache._index[a.channel][key]
        self._touched[key] = False

    def commit(self) -> Patch | None:
        if not self._touched:
            return None
        a = self._anchor
        a.version += 1
        patch = Patch(channel=a.channel, anchor=a.anchor, epoch=a.epoch, version=a.version)
        for key, present in self._touched.items():
            if present:
                a.versions[key] = a.version
                a.tombstones.pop(key, None)
                patch.records.append(a.records[key])
            else:
                a.versions.pop(key, None)
                a.tombstones[key] = a.version
                patch.deleted.append(key)
        if len(a.tombstones) > MAX_TOMBSTONES:
            oldest = sorted(a.tombstones.items(), key=lambda kv: kv[1])
            for key, version in oldest[: len(a.tombstones) - MAX_TOMBSTONES]:
                del a.tombstones[key]
                a.tombstone_floor = max(a.tombstone_floor, version)
        self._touched = {}
        return patch


class MemoryRecordCache(RecordCache):
    """The embedded record cache: anchors' flat records with versions, tombstones and lifecycle."""

    shared = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._anchors: dict[tuple[str, str], _Anchor] = {}
        self._index: dict[str, dict[RecordKey, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._active: dict[str, set[str]] = defaultdict(set)

    def _get(self, channel: str, anchor: str) -> _Anchor:
        found = self._anchors.get((channel, anchor))
        if found is None:
            found = self._anchors[(channel, anchor)] = _Anchor(channel, anchor)
        return found

    def active_anchors(self, channel: str) -> Collection[str]:
        return self._active.get(channel, ())

    def heating_anchors(self, channel: str) -> Collection[str]:
        with self._lock:
            return [
                anchor
                for anchor in self._active.get(channel, ())
                if self._get(channel, anchor).state is AnchorState.HEATING
            ]

    def lock(self, channel: str, anchors: Collection[str]) -> AbstractContextManager[None]:
        return no_lock()

    def note_backlog(self, channel: str, anchor: str, items: Iterable[tuple[str, str]]) -> bool:
        with self._lock:
            a = self._anchors.get((channel, anchor))
            if a is None or a.state is not AnchorState.HEATING:
                return False
            a.backlog.extend(items)
            return True

    def anchors_containing(
        self, channel: str, keys: Iterable[RecordKey], preload: bool = False
    ) -> Mapping[RecordKey, Collection[str]]:
        with self._lock:
            index = self._index.get(channel)
            if not index:
                return {}
            found: dict[RecordKey, Collection[str]] = {}
            for key in keys:
                holders = index.get(key)
                if holders:
                    found[key] = set(holders)
            return found

    @contextmanager
    def edit(self, channel: str, anchor: str) -> Iterator[_MemoryEdit | None]:
        with self._lock:
            a = self._anchors.get((channel, anchor))
            if a is None or a.state is not AnchorState.HOT:
                yield None
                return
            yield _MemoryEdit(self, a)

    async def begin_heat(self, channel: str, anchor: str) -> bool:
        with self._lock:
            a = self._get(channel, anchor)
            if a.state is not AnchorState.COLD:
                return False
            a.state = AnchorState.HEATING
            a.backlog = []
            self._active[channel].add(anchor)
            return True

    async def finish_heat(
        self,
        channel: str,
        anchor: str,
        root: RecordKey,
        records: Iterable[tuple[RecordKey, Record, list[RecordKey]]],
    ) -> list[tuple[str, str]]:
        # Indexing a large anchor takes a while: not on the event loop.
        return await asyncio.to_thread(self._finish_heat, channel, anchor, root, records)

    def _finish_heat(
        self,
        channel: str,
        anchor: str,
        root: RecordKey,
        records: Iterable[tuple[RecordKey, Record, list[RecordKey]]],
    ) -> list[tuple[str, str]]:
        # Built outside the lock, which snapshots of other anchors (on the event loop) also take. The
        # collector is paused meanwhile, and a large anchor's index leaves its generations (heap.py).
        with paused_gc() as pause:
            built = _Anchor(channel, anchor)
            for key, record, refs in records:
                new_refs = tuple(refs)
                built.records[key] = record
                built.refs[key] = new_refs
                for ref in new_refs:
                    built.referrers[ref].add(key)
            built.versions = dict.fromkeys(built.records, 1)
            pause.freeze = len(built.records) >= FREEZE_RECORDS
            return self._install(channel, anchor, root, built)

    def _install(self, channel: str, anchor: str, root: RecordKey, built: _Anchor) -> list[tuple[str, str]]:
        """Make a built anchor the hot one; the changes noted while it heated."""
        with self._lock:
            a = self._get(channel, anchor)
            self._drop_records(a)
            a.epoch = uuid.uuid4().hex[:12]
            a.version = 1
            a.root = root
            a.records, a.refs, a.referrers = built.records, built.refs, built.referrers
            a.versions = built.versions
            index = self._index[channel]
            for key in a.records:
                index[key].add(anchor)
            a.state = AnchorState.HOT
            backlog, a.backlog = a.backlog, []
            self._wake(a, AnchorState.HOT)
            return backlog

    async def abort_heat(self, channel: str, anchor: str) -> None:
        with self._lock:
            a = self._get(channel, anchor)
            self._drop_records(a)
            a.state = AnchorState.COLD
            self._active[channel].discard(anchor)
            self._wake(a, AnchorState.COLD)

    async def wait_hot(self, channel: str, anchor: str) -> AnchorState:
        loop = asyncio.get_running_loop()
        with self._lock:
            a = self._get(channel, anchor)
            if a.state is not AnchorState.HEATING:
                return a.state
            future: asyncio.Future[AnchorState] = loop.create_future()
            a.waiters.append((loop, future))
        return await future

    async def snapshot(self, channel: str, anchor: str, since: tuple[str, int] | None) -> Snapshot | None:
        with self._lock:
            a = self._anchors.get((channel, anchor))
            if a is None or a.state is not AnchorState.HOT:
                return None
            if since is None or since[0] != a.epoch or since[1] < a.tombstone_floor or since[1] > a.version:
                return Snapshot(a.epoch, a.version, True, list(a.records.values()), [])
            after = since[1]
            records = [a.records[k] for k, v in a.versions.items() if v > after]
            deleted = [k for k, v in a.tombstones.items() if v > after]
            return Snapshot(a.epoch, a.version, False, records, deleted)

    async def retain(self, channel: str, anchor: str, ttl: float) -> None:
        with self._lock:
            a = self._get(channel, anchor)
            a.subscribers += 1
            if a.expiry is not None:
                a.expiry.cancel()
                a.expiry = None

    async def release(self, channel: str, anchor: str, ttl: float) -> None:
        with self._lock:
            a = self._get(channel, anchor)
            a.subscribers = max(0, a.subscribers - 1)
            a.idle_since = time.monotonic()
            a.ttl = ttl
            if a.subscribers or a.state is not AnchorState.HOT:
                return
            timer = threading.Timer(ttl, self.expire, args=(channel, anchor))
            timer.daemon = True
            a.expiry = timer
            timer.start()

    def expire_idle(self, channels: Iterable[str], dry_run: bool = False) -> list[Expirable]:
        wanted = set(channels)
        now = time.monotonic()
        found: list[Expirable] = []
        with self._lock:
            for a in list(self._anchors.values()):
                idle = now - a.idle_since
                if a.channel not in wanted or a.subscribers or a.state is not AnchorState.HOT:
                    continue
                if not a.idle_since or idle < a.ttl:
                    continue
                found.append(Expirable(a.channel, a.anchor, len(a.records), idle))
                if not dry_run:
                    if a.expiry is not None:
                        a.expiry.cancel()
                    self.expire(a.channel, a.anchor)
        return found

    def expire(self, channel: str, anchor: str) -> bool:
        """Drop an anchor nobody watches; it heats again on the next subscription."""
        with self._lock:
            a = self._anchors.get((channel, anchor))
            if a is None or a.subscribers or a.state is not AnchorState.HOT:
                return False
            self._drop_records(a)
            a.state = AnchorState.COLD
            self._active[channel].discard(anchor)
            del self._anchors[(channel, anchor)]
        released()  # what the records held in cycles may be frozen (heap.py)
        return True

    def _drop_records(self, a: _Anchor) -> None:
        index = self._index.get(a.channel, {})
        for key in a.records:
            holders = index.get(key)
            if holders is not None:
                holders.discard(a.anchor)
                if not holders:
                    del index[key]
        a.records.clear()
        a.refs.clear()
        a.referrers.clear()
        a.versions.clear()
        a.tombstones.clear()
        a.tombstone_floor = 0

    @staticmethod
    def _wake(a: _Anchor, state: AnchorState) -> None:
        for loop, future in a.waiters:
            loop.call_soon_threadsafe(_resolve, future, state)
        a.waiters = []

    def reset(self, channels: Iterable[str]) -> None:
        """Forget every anchor: this process's memory holds nothing else to keep."""
        with self._lock:
            for a in self._anchors.values():
                if a.expiry is not None:
                    a.expiry.cancel()
            self._anchors.clear()
            self._index.clear()
            self._active.clear()


def _resolve(future: asyncio.Future[AnchorState], state: AnchorState) -> None:
    if not future.done():
        future.set_result(state)


class MemoryBroker(Broker):
    """In-process fan-out: each message is handed to subscribers on their own event loops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._topics: dict[str, list[tuple[asyncio.AbstractEventLoop, Callable[[bytes], None]]]] = (
            defaultdict(list)
        )

    def publish(self, topic: str, data: bytes) -> None:
        with self._lock:
            targets = list(self._topics.get(topic, ()))
        for loop, callback in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback, data)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Nothing is ever lost in process memory."""

    async def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        entry = (asyncio.get_running_loop(), callback)
        with self._lock:
            self._topics[topic].append(entry)

        def unsubscribe() -> None:
            with self._lock:
                subscribers = self._topics.get(topic)
                if subscribers and entry in subscribers:
                    subscribers.remove(entry)
                    if not subscribers:
                        del self._topics[topic]

        return unsubscribe

    def reset(self) -> None:
        with self._lock:
            self._topics.clear()
