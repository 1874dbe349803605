"""The production record cache: records in MongoDB, lifecycle, versions, locks and leases in Redis.

Several processes (ASGI workers, management commands, task workers) share it. What each method costs:

* ``active_anchors`` / ``heating_anchors``: nothing on the network (the process's view, see redis.py);
* an edit: two round trips to Redis, the anchor's lock with its state and next version, then (with the
  unlock, see ``RedisNode.locked``) the ``committed`` mark and the patch the caller publishes; in MongoDB
  the reads of the records touched and one bulk upsert;
* a snapshot: one read of the state, one Mongo query, one re-read of the epoch.

The heat/edit race. A writer edits an anchor when its view says the anchor is active; a heater renders
the anchor from one database snapshot taken after the anchor became HEATING. A commit that the heater's
snapshot misses happened after the snapshot started, so its writer checks its view even later: the heater
waits until its own HEATING notice came back on the control channel (Redis has then handed it to every
subscribed process) plus ``HEAT_GRACE`` before reading. What remains: a writer process whose control
thread is stalled (or whose control connection is broken and has not noticed yet) for longer than that
between Redis sending the notice and the thread applying it. A process whose control connection is known
to be down asks Redis directly on every batch instead of trusting its view.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

from ..records import Record, RecordKey
from .base import AnchorState, BackendUnavailableError, Expirable, Patch, RecordCache, Snapshot
from .mongo import MongoStore, TornReadError, decode_ref, encode_ref
from .redis import RedisNode
from .redis_keys import (
    CONTROL,
    HEAD_FIELDS,
    RESET_MESSAGE,
    AnchorHead,
    active_key,
    backlog_key,
    decode_items,
    encode_items,
    members_key,
    message_prefix,
    parse_state,
    state_key,
    wipe_state,
)
from .redis_keys import as_text as text

logger = logging.getLogger("rxgraphql.cache")

HEAT_GRACE = 0.02
#: After Redis lost its counters, versions restart this far above the highest one stored in MongoDB, so
#: that a writer still holding a version of the former run can never overwrite the new epoch's records.
VERSION_MARGIN = 1 << 20


class _SharedEdit:
    """An AnchorEdit over MongoDB: reads on demand, remembers what changed, writes it in one bulk."""

    def __init__(
        self,
        cache: SharedRecordCache,
        channel: str,
        anchor: str,
        epoch: str,
        root: RecordKey,
        version: int | None = None,
    ) -> None:
        self._cache = cache
        self._store = cache.store
        self.channel = channel
        self.anchor = anchor
        self.epoch = epoch
        self.root = root
        self._version = version  # taken with the lock: a first commit needs no round trip for it
        self._loaded: dict[RecordKey, tuple[Record, list[RecordKey], bool] | None] = {}
        self._referrers: dict[RecordKey, set[RecordKey]] = {}
        self._touched: dict[RecordKey, tuple[Record, list[RecordKey]] | None] = {}
        self._held: set[RecordKey] = set()  # known to be in the anchor, not read

    def seed(self, docs: Iterable[Mapping[str, Any]], keys: Collection[RecordKey]) -> None:
        """Take what a ``gather`` of these keys read (under the lock): their documents and referrers."""
        mine = [doc for doc in docs if doc.get("a") == self.anchor and doc.get("e") == self.epoch]
        by_key = {(doc["t"], doc["i"]): doc for doc in mine}
        for key in keys:
            if key not in self._loaded:
                doc = by_key.get(key)
                self._loaded[key] = None if doc is None else self._store.decode(self.channel, doc)
        wanted = {encode_ref(key): key for key in keys if key not in self._referrers}
        found: dict[RecordKey, set[RecordKey]] = {key: set() for key in wanted.values()}
        for doc in mine:
            referrer = (doc["t"], doc["i"])
            for ref in doc.get("refs", ()):
                if ref in wanted:
                    found[wanted[ref]].add(referrer)
            if referrer not in self._loaded:
                self._loaded[referrer] = self._store.decode(self.channel, doc)
            # What a stored record refers to, the anchor holds: every edit that wrote the record brought
            # its references in (``anchor_edit._fill_missing``), and a record is only deleted once nothing
            # refers to it. So ``missing`` needs no query for the references a title edit leaves as they were.
            self._held.update(decode_ref(ref) for ref in doc.get("refs", ()))
        self._referrers.update(found)

    def preload(self, keys: Iterable[RecordKey]) -> None:
        missing = [key for key in dict.fromkeys(keys) if key not in self._loaded]
        if missing:
            self._loaded.update(self._store.load_many(self.channel, self.anchor, self.epoch, missing))

    def preload_referrers(self, keys: Iterable[RecordKey]) -> None:
        missing = [key for key in dict.fromkeys(keys) if key not in self._referrers]
        if missing:
            self._referrers.update(self._store.referrers_many(self.channel, self.anchor, self.epoch, missing))

    def missing(self, keys: Iterable[RecordKey]) -> list[RecordKey]:
        wanted = list(dict.fromkeys(keys))
        unknown = [
            k for k in wanted if k not in self._touched and k not in self._loaded and k not in self._held
        ]
        if unknown:
            held = self._store.present(self.channel, self.anchor, self.epoch, unknown)
            self._held.update(held)
            for key in unknown:
                if key not in held:
                    self._loaded[key] = None  # known absent: a later put needs no read
        return [key for key in wanted if self._absent(key)]

    def _absent(self, key: RecordKey) -> bool:
        if key in self._touched:
            return self._touched[key] is None
        if key in self._loaded:
            return self._loaded[key] is None
        return key not in self._held

    def _base(self, key: RecordKey) -> tuple[Record, list[RecordKey], bool] | None:
        if key not in self._loaded:
            self._loaded[key] = self._store.load(self.channel, self.anchor, self.epoch, key)
        return self._loaded[key]

    def _current(self, key: RecordKey) -> tuple[Record, list[RecordKey]] | None:
        if key in self._touched:
            return self._touched[key]
        base = self._base(key)
        return None if base is None else (base[0], base[1])

    def get(self, key: RecordKey) -> Record | None:
        current = self._current(key)
        return None if current is None else current[0]

    def referrers(self, key: RecordKey) -> Collection[RecordKey]:
        if key not in self._referrers:
            self._referrers[key] = self._store.referrers(self.channel, self.anchor, self.epoch, key)
        found = {r for r in self._referrers[key] if r not in self._touched}
        for other, value in self._touched.items():
            if value is not None and key in value[1]:
                found.add(other)
        return found

    def put(self, key: RecordKey, record: Record, refs: Iterable[RecordKey]) -> None:
        new_refs = list(refs)
        current = self._current(key)
        if current is not None and current[0] == record and list(current[1]) == new_refs:
            return
        self._touched[key] = (record, new_refs)

    def remove(self, key: RecordKey) -> None:
        if self._current(key) is None:
            return
        self._touched[key] = None

    def commit(self) -> Patch | None:
        changed: dict[RecordKey, tuple[Record, list[RecordKey]] | None] = {}
        for key, value in self._touched.items():
            base = self._base(key)
            if value is None and base is None:
                continue
            if value is not None and base is not None and base[0] == value[0] and base[1] == value[1]:
                continue
            changed[key] = value
        self._touched = {}
        if not changed:
            return None
        node = self._cache.node
        version, self._version = self._version, None
        if version is None:
            version = int(node.client.hincrby(state_key(self.channel, self.anchor), "ver", 1))
        puts = {k: v for k, v in changed.items() if v is not None}
        removes = [k for k, v in changed.items() if v is None]
        had_chunks = [k for k in changed if (b := self._loaded.get(k)) is not None and b[2]]
        try:
            self._store.write(self.channel, self.anchor, self.epoch, version, puts, removes, had_chunks)
        except BaseException:
            # Part of this version may be stored while no patch announces it: nobody can trust the
            # anchor any more. Drop it; its watchers catch up, heating it again with a new epoch.
            self._cache.drop(self.channel, self.anchor)
            raise
        # Sent with the publish of the patch that follows (RedisBroker.publish), or when the edit ends.
        node.defer(node.scripts.committed, [state_key(self.channel, self.anchor)], [version])
        for key, value in changed.items():
            self._loaded[key] = None if value is None else (value[0], value[1], False)
        return Patch(
            channel=self.channel,
            anchor=self.anchor,
            epoch=self.epoch,
            version=version,
            records=[v[0] for v in puts.values()],
            deleted=removes,
        )


@dataclass(frozen=True)
class _Gathered:
    """What ``anchors_containing(preload=True)`` read: the documents of these keys and their referrers."""

    channel: str
    keys: set[RecordKey]
    docs: list[dict[str, Any]]


class _UnderLocks(threading.local):
    """Per thread, what was read with the locks it holds; stale (None) once they are released."""

    heads: tuple[str, dict[str, AnchorHead]] | None = None
    gathered: _Gathered | None = None


@dataclass
class _Heat:
    owner: str
    epoch: str
    renewal: asyncio.Task[None]


class SharedRecordCache(RecordCache):
    """RecordCache shared by every process: Redis coordinates, MongoDB stores."""

    shared = True

    def __init__(self, node: RedisNode, store: MongoStore, heat_lease: float = 10.0) -> None:
        self.node = node
        self.store = store
        self.heat_lease = heat_lease
        self._heats: dict[tuple[str, str], _Heat] = {}
        self._lock = threading.Lock()
        # What the write path's thread read under the locks it holds (see lock, anchors_containing).
        self._local = _UnderLocks()
        node.on_idle = self._on_idle

    # ---- write path ----------------------------------------------------------------------------

    def active_anchors(self, channel: str) -> Collection[str]:
        return list(self.node.control.view(channel))

    def heating_anchors(self, channel: str) -> Collection[str]:
        return [
            anchor
            for anchor, state in self.node.control.view(channel).items()
            if state is AnchorState.HEATING
        ]

    def note_backlog(self, channel: str, anchor: str, items: Iterable[tuple[str, str]]) -> bool:
        encoded = encode_items(items)
        if not encoded:
            return False
        return bool(
            self.node.scripts.note_backlog(
                keys=[state_key(channel, anchor), backlog_key(channel, anchor)], args=encoded
            )
        )

    def anchors_containing(
        self, channel: str, keys: Iterable[RecordKey], preload: bool = False
    ) -> Mapping[RecordKey, Collection[str]]:
        active = set(self.node.control.view(channel))
        if not active:
            return {}
        if not preload:
            found = self.store.anchors_containing(channel, keys)
            return {key: anchors & active for key, anchors in found.items() if anchors & active}
        # One query reads the holders, and for the edits that follow under the same locks, the records
        # of these keys and of their referrers.
        wanted = set(keys)
        docs = self.store.gather(channel, wanted)
        self._local.gathered = _Gathered(channel, wanted, docs)
        holders: dict[RecordKey, set[str]] = {}
        for doc in docs:
            key = (doc["t"], doc["i"])
            if key in wanted and doc["a"] in active:
                holders.setdefault(key, set()).add(doc["a"])
        return holders

    @contextmanager
    def lock(self, channel: str, anchors: Collection[str]) -> Iterator[None]:
        self._local.gathered = None
        heads: dict[str, AnchorHead] = {}
        try:
            with self.node.locked(channel, anchors, heads):
                self._local.heads = (channel, heads)
                yield
        finally:
            # Read under these locks: stale once they are released.
            self._local.gathered = None
            self._local.heads = None

    @contextmanager
    def edit(self, channel: str, anchor: str) -> Iterator[_SharedEdit | None]:
        locked = self._local.heads
        if locked is not None and locked[0] == channel and anchor in locked[1]:
            head = locked[1][anchor]  # read with the lock
            # Its version is for one commit; a further edit under the same lock takes its own.
            locked[1][anchor] = replace(head, version=None)
        else:
            head = AnchorHead.parse(self.node.client.hmget(state_key(channel, anchor), HEAD_FIELDS))
        if head.state is not AnchorState.HOT or head.epoch is None or head.root is None:
            yield None
            return
        edit = _SharedEdit(self, channel, anchor, head.epoch, decode_ref(head.root), head.version)
        gathered = self._local.gathered
        if gathered is not None and gathered.channel == channel:
            edit.seed(gathered.docs, gathered.keys)
        try:
            yield edit
        finally:
            self.node.flush_deferred()  # a committed mark no publish carried

    def drop(self, channel: str, anchor: str) -> None:
        try:
            self.node.scripts.drop(
                keys=[state_key(channel, anchor), backlog_key(channel, anchor), active_key(channel)],
                args=[anchor, CONTROL, message_prefix(channel, anchor)],
            )
            self.node.control.apply_local(channel, anchor, AnchorState.COLD)
        except Exception as error:
            logger.warning("rxgraphql could not drop %s (%s)", anchor, error)

    # ---- heating -------------------------------------------------------------------------------

    async def begin_heat(self, channel: str, anchor: str) -> bool:
        side = await self.node.ready()
        owner = f"{self.node.member_id}-{uuid.uuid4().hex[:8]}"
        epoch = uuid.uuid4().hex[:12]
        seen = self.node.control.expect_own(owner)
        verdict = text(
            await side.scripts.begin_heat(
                keys=[state_key(channel, anchor), backlog_key(channel, anchor), active_key(channel)],
                args=[
                    anchor,
                    owner,
                    int(self.heat_lease * 1000),
                    epoch,
                    CONTROL,
                    message_prefix(channel, anchor),
                ],
            )
        )
        if verdict != "claimed":
            self.node.control.forget_own(owner)
            return False
        renewal = asyncio.ensure_future(self._renew(channel, anchor, owner))
        self._heats[(channel, anchor)] = _Heat(owner, epoch, renewal)
        # Every writer must know the anchor heats before the heater reads its database snapshot.
        await asyncio.get_running_loop().run_in_executor(None, seen.wait, 2.0)
        await asyncio.sleep(HEAT_GRACE)
        return True

    async def _renew(self, channel: str, anchor: str, owner: str) -> None:
        side = self.node.side()
        while True:
            await asyncio.sleep(self.heat_lease / 3)
            try:
                result = await side.scripts.renew_heat(
                    keys=[state_key(channel, anchor)], args=[owner, int(self.heat_lease * 1000), 0]
                )
            except Exception as error:
                logger.warning("rxgraphql could not renew the heating lease of %s (%s)", anchor, error)
                continue
            if int(result) < 0:
                return

    async def finish_heat(
        self,
        channel: str,
        anchor: str,
        root: RecordKey,
        records: Iterable[tuple[RecordKey, Record, list[RecordKey]]],
    ) -> list[tuple[str, str]]:
        heat = self._heats.pop((channel, anchor), None)
        if heat is None:
            return []
        try:
            side = self.node.side()
            floor = await self.store.max_version(channel, anchor)
            version = int(
                await side.scripts.renew_heat(
                    keys=[state_key(channel, anchor)],
                    args=[heat.owner, int(self.heat_lease * 1000), floor + VERSION_MARGIN],
                )
            )
            if version < 0:
                return []  # the lease expired and another process heats the anchor
            await self.store.write_heat(channel, anchor, heat.epoch, version, records)
            backlog = await side.scripts.finish_heat(
                keys=[state_key(channel, anchor), backlog_key(channel, anchor), active_key(channel)],
                args=[
                    anchor,
                    heat.owner,
                    version,
                    encode_ref(root),
                    CONTROL,
                    message_prefix(channel, anchor),
                ],
            )
        finally:
            heat.renewal.cancel()
        if backlog is None:
            return []
        self.node.control.apply_local(channel, anchor, AnchorState.HOT)
        return decode_items(backlog)

    async def abort_heat(self, channel: str, anchor: str) -> None:
        heat = self._heats.pop((channel, anchor), None)
        if heat is None:
            return
        heat.renewal.cancel()
        await self.node.side().scripts.abort(
            keys=[state_key(channel, anchor), backlog_key(channel, anchor), active_key(channel)],
            args=[anchor, heat.owner, CONTROL, message_prefix(channel, anchor)],
        )
        self.node.control.apply_local(channel, anchor, AnchorState.COLD)

    async def wait_hot(self, channel: str, anchor: str) -> AnchorState:
        side = self.node.side()
        future: asyncio.Future[None] = side.loop.create_future()
        side.waiters[(channel, anchor)].append(future)
        state = await side.client.hget(state_key(channel, anchor), "state")
        current = parse_state(state)
        if current in (AnchorState.HEATING, AnchorState.COOLING):
            # Woken by the control channel; polled too, since an expired lease sends no message.
            with suppress(TimeoutError):
                await asyncio.wait_for(future, 0.25)
            current = parse_state(await side.client.hget(state_key(channel, anchor), "state"))
        return current

    # ---- reading -------------------------------------------------------------------------------

    async def snapshot(self, channel: str, anchor: str, since: tuple[str, int] | None) -> Snapshot | None:
        side = await self.node.ready()
        key = state_key(channel, anchor)
        for _ in range(20):
            state, epoch_raw, committed_raw = await side.client.hmget(key, ["state", "epoch", "committed"])
            if parse_state(state) is not AnchorState.HOT or epoch_raw is None:
                return None
            epoch, committed = text(epoch_raw), int(committed_raw or 0)
            after = since[1] if since is not None and since[0] == epoch and since[1] <= committed else None
            full = after is None
            try:
                records, deleted = await self.store.read(channel, anchor, epoch, after)
            except TornReadError:
                continue
            again = await side.client.hget(key, "epoch")
            if again is None or text(again) != epoch:
                continue
            return Snapshot(epoch, committed, full, records, [] if full else deleted)
        raise BackendUnavailableError(f"no stable snapshot of {anchor}")

    # ---- subscribers and expiry ----------------------------------------------------------------

    async def retain(self, channel: str, anchor: str, ttl: float) -> None:
        await (await self.node.ready()).retain(channel, anchor, ttl)

    async def release(self, channel: str, anchor: str, ttl: float) -> None:
        await self.node.side().release(channel, anchor, ttl)

    async def _on_idle(self, channel: str, anchor: str) -> None:
        try:
            await asyncio.to_thread(self._expire_one, channel, anchor, False, False)
        except Exception as error:
            logger.warning("rxgraphql could not expire %s (%s)", anchor, error)

    def _expire_one(self, channel: str, anchor: str, dry_run: bool, orphan: bool) -> Expirable | None:
        owner = f"{self.node.member_id}-cool-{uuid.uuid4().hex[:8]}"
        verdict, idle = self.node.scripts.begin_cool(
            keys=[state_key(channel, anchor), members_key(channel, anchor), active_key(channel)],
            args=[
                anchor,
                owner,
                int(self.heat_lease * 1000),
                CONTROL,
                message_prefix(channel, anchor),
                "0" if dry_run else "1",
                "1" if orphan else "0",
            ],
        )
        if text(verdict) != "expire":
            return None
        found = Expirable(channel, anchor, self.store.count(channel, anchor), int(idle) / 1000)
        if dry_run:
            return found
        self.node.control.apply_local(channel, anchor, AnchorState.COOLING)
        try:
            with self.node.locked(channel, [anchor]):
                self.store.delete_anchor(channel, anchor)
        finally:
            self.node.scripts.finish_cool(
                keys=[state_key(channel, anchor), backlog_key(channel, anchor)],
                args=[owner, CONTROL, message_prefix(channel, anchor)],
            )
        return found

    def expire_idle(self, channels: Iterable[str], dry_run: bool = False) -> list[Expirable]:
        freed: list[Expirable] = []
        for channel in sorted(channels):
            raw = self.node.client.hgetall(active_key(channel))
            active = {text(k): parse_state(v) for k, v in raw.items()}
            for anchor in sorted(active):
                if active[anchor] is AnchorState.HOT:
                    found = self._expire_one(channel, anchor, dry_run, orphan=False)
                    if found is not None:
                        freed.append(found)
            # Records of anchors Redis does not know as active (it restarted): leftovers, freed too.
            for anchor in sorted(set(self.store.stored_anchors(channel)) - set(active)):
                found = self._expire_one(channel, anchor, dry_run, orphan=True)
                if found is not None:
                    freed.append(found)
        return freed

    def reset(self, channels: Iterable[str]) -> None:
        """Forget every anchor of every process (``migrate``): the Redis state of all, the stored records
        of these channels."""
        wipe_state(self.node.client)
        self.store.drop(channels)
        self.node.client.publish(CONTROL, RESET_MESSAGE)
