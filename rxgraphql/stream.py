"""The stream's vocabulary: what travels from the write path to a subscriber, and how it is spelled.

One place for the words every stage of the live pipeline shares, so that none of them invents its own:

- a :class:`Patch` is one anchor's change at one version, as published on the anchor's broker topic;
- a :class:`Snapshot` is what a new (or resuming) subscriber catches up from;
- a :class:`Notice` is a notification travelling on the same topics, never cached nor replayed;
- an :class:`Event` is one event of a subscription as the client reads it (the root value its document
  is executed against); :func:`transaction` cuts one transaction into events of a bounded size;
- a cursor (``"<epoch>.<version>"``), the broker topics, and the text of a record key (``"Type:id"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from .records import Record, RecordKey

#: The topic of system messages (``broadcast_system_message``), shared by every process.
SYSTEM_TOPIC = "rx:system"


def anchor_topic(channel_name: str, anchor: str) -> str:
    """The broker topic of one anchor's patches and notices."""
    return f"rx:{channel_name}:{anchor}"


def membership_topic(channel_name: str) -> str:
    """The broker topic announcing the saved anchor rows of a list channel (``Meta.auto_update``)."""
    return f"rx:anchors:{channel_name}"


def key_text(key: RecordKey) -> str:
    """A record key as one string (``"Card:7"``): the keys of a patch's owner maps."""
    return f"{key[0]}:{key[1]}"


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


@dataclass
class Patch:
    """One event of an anchor's stream: records upserted and records deleted at one version."""

    channel: str
    anchor: str
    epoch: str
    version: int
    records: list[Record] = field(default_factory=list)
    deleted: list[RecordKey] = field(default_factory=list)
    #: A catch-up after an outage that carries the whole state: listeners drop what they held.
    reset: bool = False
    #: For channels with per-user records: owner of each user-keyed record upserted or listed as a child,
    #: and the former owner of those that changed hands or were deleted ("Type:id" -> user pk).
    owners: dict[str, str] = field(default_factory=dict)
    previous_owners: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        raw: dict[str, object] = {
            "c": self.channel,
            "a": self.anchor,
            "e": self.epoch,
            "v": self.version,
            "r": self.records,
            "d": self.deleted,
        }
        if self.reset:
            raw["x"] = True
        if self.owners or self.previous_owners:
            raw["o"] = self.owners
            raw["p"] = self.previous_owners
        return orjson.dumps(raw)

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
            reset=bool(raw.get("x", False)),
            owners=raw.get("o", {}),
            previous_owners=raw.get("p", {}),
        )


@dataclass
class Snapshot:
    """What a subscriber needs to catch up: all records (reset) or the changes since its cursor."""

    epoch: str
    version: int
    reset: bool
    records: list[Record]
    deleted: list[RecordKey]

    @property
    def cursor(self) -> str:
        return format_cursor(self.epoch, self.version)


@dataclass(frozen=True)
class Notice:
    """A notification; ``user`` (a primary key as a string) restricts it to that user's subscriptions."""

    payload: dict[str, Any]
    user: str | None = None

    def encode(self) -> bytes:
        return orjson.dumps({"notice": self.payload, "user": self.user})

    @staticmethod
    def decode(data: bytes) -> Notice | None:
        """The notice in a broker message; None when the message is a patch."""
        if not data.startswith(b'{"notice"'):
            return None
        raw = orjson.loads(data)
        return Notice(raw["notice"], raw.get("user"))


@dataclass(frozen=True, kw_only=True)
class Event:
    """One event of a subscription, as the client reads it.

    ``cursor`` is set on the last event of a transaction (empty on list channels, whose anchors' cursors
    do not compare); ``ready`` marks that last event; ``reset`` (on the first) tells the client to drop
    what it held. ``anchors`` (list channels) is the anchor order; ``runtime`` the instance's runtime
    state as GraphQL renders it. Both are left out of the root while they are None.
    """

    cursor: str = ""
    reset: bool = False
    ready: bool = True
    records: list[Record] = field(default_factory=list)
    deleted: list[RecordKey] = field(default_factory=list)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    anchors: list[str] | None = None
    runtime: Any = None

    def root(self) -> dict[str, Any]:
        """The root value the subscription's document is executed against."""
        root: dict[str, Any] = {
            "cursor": self.cursor,
            "reset": self.reset,
            "ready": self.ready,
            "records": self.records,
            "deleted": [{"type": t, "id": i} for t, i in self.deleted],
            "notifications": self.notifications,
        }
        if self.anchors is not None:
            root["anchors"] = self.anchors
        if self.runtime is not None:
            root["runtime"] = self.runtime
        return root


def transaction(
    *, records: list[Record], deleted: list[RecordKey], cursor: str, reset: bool, size: int
) -> list[Event]:
    """The events of one transaction in batches of ``size`` records: ``reset`` and the deletions on the
    first, ``ready`` and the cursor on the last (at least one event)."""
    batches = [records[i : i + size] for i in range(0, len(records), size)] or [[]]
    last = len(batches) - 1
    return [
        Event(
            cursor=cursor if n == last else "",
            reset=reset and n == 0,
            ready=n == last,
            records=batch,
            deleted=deleted if n == 0 else [],
        )
        for n, batch in enumerate(batches)
    ]
