"""What a subscriber of a channel with per-user records (``Meta.user_key``) gets when it subscribes.

A resume (``since``) is served incrementally, like any channel's, when the changes since the cursor can
be told apart per user without guessing: the owners of every record (those of the unchanged children of
a changed parent included) are read from the anchor's full state, so changed parents list exactly the
user's children. The one thing a change set cannot tell is whose a deleted record, or a record now owned
by someone else, was: a tombstone does not keep its owner. When the changes contain such a record (a
per-user record deleted, or one of another user's records changed since the cursor), the subscriber gets
a full snapshot flagged ``reset`` instead, so it never receives another user's record or id and never
keeps one it should lose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .backends import Snapshot, get_cache
from .feeds import snapshot
from .layers import Layer
from .ownership import key_text, snapshot_owners, visible_to
from .records import Record, RecordKey

if TYPE_CHECKING:
    from .channel import ContextChannel


@dataclass(frozen=True)
class UserSnapshot:
    """The part of a snapshot one user may see, at the snapshot's position."""

    epoch: str
    version: int
    reset: bool
    records: list[Record]
    deleted: list[RecordKey]


def _needs_owner_history(
    found: Snapshot, owners: dict[str, str], user: str | None, layers: dict[str, Layer]
) -> bool:
    """True when the change set holds a per-user record whose previous owner only a full snapshot settles."""
    if any(layers[key[0]].user_key is not None for key in found.deleted):
        return True
    for record in found.records:
        layer = layers[record["__typename"]]
        if layer.user_key is None:
            continue
        if owners.get(key_text((layer.type_name, str(record[layer.pk_field])))) != user:
            return True
    return False


async def user_snapshot(
    channel: type[ContextChannel],
    anchor: str,
    since: tuple[str, int] | None,
    user: str | None,
    layers: dict[str, Layer],
) -> UserSnapshot | None:
    """The anchor's state (or the changes since ``since``) as ``user`` may see it; None when it is gone."""
    full = await snapshot(channel, anchor, None)
    if full is None:
        return None
    owners = snapshot_owners(full.records, layers)
    if since is not None:
        found = await get_cache().snapshot(channel._meta.channel_name, anchor, since)
        if (
            found is not None
            and not found.reset
            and (found.epoch, found.version) == (full.epoch, full.version)
            and not _needs_owner_history(found, owners, user, layers)
        ):
            records, deleted = visible_to(found.records, found.deleted, user, owners, {}, layers)
            return UserSnapshot(found.epoch, found.version, False, records, deleted)
    records, deleted = visible_to(full.records, [], user, owners, {}, layers)
    return UserSnapshot(full.epoch, full.version, True, records, deleted)
