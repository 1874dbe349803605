"""The contracts between the channel runtime and its storage: the record cache and the patch broker.

The record cache is three small contracts, one per concern: ``AnchorStore`` (the records the write
path edits through an ``AnchorEdit`` and subscribers read as a ``Snapshot``), ``HeatLifecycle`` (which
anchors are active, and their heating) and ``Retention`` (who watches an anchor, and the expiry of those
nobody watches); ``RecordCache`` is the three. As in Channels' ``layers.py``, the in-memory backends
(``memory.py``) are the reference implementations, and one conformance suite (``tests/backends``) runs
on them and on the production ones (``shared.py``: the cache in MongoDB, the fan-out and coordination
in Redis).

The write path (the flusher thread of any process) uses the synchronous side; the subscription side (the
event loop of an ASGI worker) uses the asynchronous side, so that no network round trip ever blocks the
loop.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from ..records import Record, RecordKey

# The stream's vocabulary (stream.py), named here too as the values these contracts carry.
from ..stream import Patch as Patch
from ..stream import Snapshot as Snapshot


class AnchorState(enum.Enum):
    COLD = "cold"
    HEATING = "heating"
    HOT = "hot"
    COOLING = "cooling"


class BackendUnavailableError(Exception):
    """A server of a production backend cannot be reached; the write path retries the batch."""


class AnchorEdit(Protocol):
    """A working view of one anchor's records, used by the write path under the anchor's lock."""

    root: RecordKey

    def get(self, key: RecordKey) -> Record | None: ...

    def referrers(self, key: RecordKey) -> Collection[RecordKey]: ...

    def preload(self, keys: Iterable[RecordKey]) -> None:
        """Read these records in one go before ``get`` asks for them one by one (a hint)."""
        ...

    def preload_referrers(self, keys: Iterable[RecordKey]) -> None:
        """Read the referrers of these records in one go before ``referrers`` asks (a hint)."""
        ...

    def missing(self, keys: Iterable[RecordKey]) -> list[RecordKey]:
        """The keys the anchor does not hold, asked in one go without reading the records it holds."""
        ...

    def put(self, key: RecordKey, record: Record, refs: Iterable[RecordKey]) -> None: ...

    def remove(self, key: RecordKey) -> None: ...

    def commit(self) -> Patch | None:
        """Assign the next version to what changed, store it and return the patch (None if nothing did)."""
        ...


@dataclass
class Expirable:
    """An anchor nobody watches whose TTL has passed: what ``expire_idle`` frees (or would free)."""

    channel: str
    anchor: str
    records: int
    idle_seconds: float


class AnchorStore(Protocol):
    """The records of the hot anchors: what the write path edits and what subscribers read."""

    #: Whether other processes write the same cache: the write path then locks the anchors it edits.
    shared: bool

    def anchors_containing(
        self, channel: str, keys: Iterable[RecordKey], preload: bool = False
    ) -> Mapping[RecordKey, Collection[str]]:
        """The active anchors holding each key. ``preload``: the caller holds the locks of the anchors it
        will edit; the records of these keys and of their referrers may be read now for those edits."""
        ...

    def lock(self, channel: str, anchors: Collection[str]) -> AbstractContextManager[None]:
        """Hold the write locks of these anchors (all or none); a no-op when the cache is not shared."""
        ...

    def edit(self, channel: str, anchor: str) -> AbstractContextManager[AnchorEdit | None]:
        """A working view of a hot anchor's records (None when the anchor is not hot)."""
        ...

    async def snapshot(self, channel: str, anchor: str, since: tuple[str, int] | None) -> Snapshot | None:
        """The anchor's records (or changes since a cursor); None when the anchor is not hot."""
        ...


class HeatLifecycle(Protocol):
    """Which anchors are active, and their transitions: COLD -> HEATING -> HOT (-> COOLING -> COLD)."""

    def active_anchors(self, channel: str) -> Collection[str]:
        """Anchors of a channel that are hot or heating. Cheap: no network round trip."""
        ...

    def heating_anchors(self, channel: str) -> Collection[str]:
        """The active anchors that are heating (their changed rows go to the backlog). No round trip."""
        ...

    def note_backlog(self, channel: str, anchor: str, items: Iterable[tuple[str, str]]) -> bool:
        """Remember changed rows (model label, pk) for an anchor that is heating; False if it is not."""
        ...

    async def begin_heat(self, channel: str, anchor: str) -> bool:
        """Claim the heating of a cold anchor; False when it is hot or another caller heats it."""
        ...

    async def finish_heat(
        self,
        channel: str,
        anchor: str,
        root: RecordKey,
        records: Iterable[tuple[RecordKey, Record, list[RecordKey]]],
    ) -> list[tuple[str, str]]:
        """Store a heated anchor, make it hot, and hand back the rows changed while it heated."""
        ...

    async def abort_heat(self, channel: str, anchor: str) -> None:
        """Give up a heat this caller claimed: the anchor is cold again."""
        ...

    async def wait_hot(self, channel: str, anchor: str) -> AnchorState:
        """Wait while another caller heats (or cools) the anchor; the state it ended in."""
        ...


class Retention(Protocol):
    """Who watches an anchor, and the expiry of those nobody watches (hot -> cooling -> cold)."""

    async def retain(self, channel: str, anchor: str, ttl: float) -> None:
        """A subscriber of this process watches the anchor: keep it hot."""
        ...

    async def release(self, channel: str, anchor: str, ttl: float) -> None:
        """A subscriber left; the anchor may expire ``ttl`` seconds after the last one leaves."""
        ...

    def expire_idle(self, channels: Iterable[str], dry_run: bool = False) -> list[Expirable]:
        """Free (or only list) every anchor of these channels nobody watches whose TTL has passed."""
        ...


class RecordCache(AnchorStore, HeatLifecycle, Retention, Protocol):
    """The whole record cache a backend provides (``MemoryRecordCache`` is the reference)."""

    def reset(self, channels: Iterable[str]) -> None:
        """Forget every anchor (``migrate``, tests; shared: of every process). ``channels`` names the
        channels whose stored records are dropped: a store keeps no list of its own."""
        ...


def no_lock() -> AbstractContextManager[None]:
    return nullcontext()


Unsubscribe = Callable[[], None]


class Broker(Protocol):
    """The fan-out of patches (and notices) between processes (``MemoryBroker`` is the reference)."""

    def publish(self, topic: str, data: bytes) -> None:
        """Send a message to every process subscribed to ``topic`` (write path, synchronous)."""
        ...

    async def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        """Call ``callback`` on the caller's event loop for every message on ``topic``.

        Returns once messages published from now on are delivered. The returned function is synchronous.
        """
        ...

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the subscribers' event loop after messages may have been lost (an outage)."""
        ...

    def reset(self) -> None:
        """Forget this process's subscriptions (tests, ``migrate``)."""
        ...
