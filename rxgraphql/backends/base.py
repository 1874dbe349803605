"""The contracts between the channel runtime and its storage: the record cache and the patch broker.

The write path (a thread of any process) uses the synchronous side; the subscription side (the event loop
of an ASGI worker) uses the asynchronous side. The embedded backends keep everything in process memory;
production backends put the cache in MongoDB and the fan-out and coordination in Redis.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from ..records import Record, RecordKey


class AnchorState(enum.Enum):
    COLD = "cold"
    HEATING = "heating"
    HOT = "hot"


@dataclass
class Patch:
    """One event of an anchor's stream: records upserted and records deleted at one version."""

    channel: str
    anchor: str
    epoch: str
    version: int
    records: list[Record] = field(default_factory=list)
    deleted: list[RecordKey] = field(default_factory=list)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "c": self.channel,
                "a": self.anchor,
                "e": self.epoch,
                "v": self.version,
                "r": self.records,
                "d": self.deleted,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Patch:
        raw = orjson.loads(data)
        return cls(
            channel=raw["c"],
            anchor=raw["a"],
            epoch=raw["e"],
            version=raw["v"],
            records=raw["r"],
            deleted=[(t, i) for t, i in raw["d"]],
        )


@dataclass
class Snapshot:
    """What a subscriber needs to catch up: all records (reset) or the changes since its cursor."""

    epoch: str
    version: int
    reset: bool
    records: list[Record]
    deleted: list[RecordKey]


class AnchorEdit(Protocol):
    """A working view of one anchor's records, used by the write path under the anchor's lock."""

    root: RecordKey

    def get(self, key: RecordKey) -> Record | None: ...

    def referrers(self, key: RecordKey) -> Collection[RecordKey]: ...

    def put(self, key: RecordKey, record: Record, refs: Iterable[RecordKey]) -> None: ...

    def remove(self, key: RecordKey) -> None: ...

    def commit(self) -> Patch | None:
        """Assign the next version to what changed, store it and return the patch (None if nothing did)."""
        ...


class RecordCache(Protocol):
    def active_anchors(self, channel: str) -> Collection[str]:
        """Anchors of a channel that are hot or heating. Cheap: no network round trip."""
        ...

    def note_backlog(self, channel: str, anchor: str, items: Iterable[tuple[str, str]]) -> bool:
        """Remember changed rows (model label, pk) for an anchor that is heating; False if it is not."""
        ...

    def anchors_containing(
        self, channel: str, keys: Iterable[RecordKey]
    ) -> Mapping[RecordKey, Collection[str]]: ...

    def edit(self, channel: str, anchor: str) -> AbstractContextManager[AnchorEdit | None]: ...

    def begin_heat(self, channel: str, anchor: str) -> bool:
        """Claim the heating of a cold anchor; False when it is hot or another caller heats it."""
        ...

    def finish_heat(
        self,
        channel: str,
        anchor: str,
        root: RecordKey,
        records: Iterable[tuple[RecordKey, Record, list[RecordKey]]],
    ) -> list[tuple[str, str]]:
        """Store a heated anchor, make it hot, and hand back the rows changed while it heated."""
        ...

    def abort_heat(self, channel: str, anchor: str) -> None: ...

    async def wait_hot(self, channel: str, anchor: str) -> AnchorState:
        """Wait while another caller heats the anchor; the state it ended in."""
        ...

    async def snapshot(self, channel: str, anchor: str, since: tuple[str, int] | None) -> Snapshot | None:
        """The anchor's records (or changes since a cursor); None when the anchor is not hot."""
        ...

    def retain(self, channel: str, anchor: str) -> None:
        """A subscriber watches the anchor: keep it hot."""
        ...

    def release(self, channel: str, anchor: str, ttl: float) -> None:
        """A subscriber left; the anchor may expire ``ttl`` seconds after the last one leaves."""
        ...

    def reset(self) -> None: ...


Unsubscribe = Callable[[], None]


class Broker(Protocol):
    def publish(self, topic: str, data: bytes) -> None: ...

    def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        """Call ``callback`` on the caller's event loop for every message on ``topic``."""
        ...

    def reset(self) -> None: ...
