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

from collections.abc import Mapping

from . import offload
from .backends import get_cache
from .layers import Layer
from .ownership import snapshot_owners, visible_to
from .stream import Snapshot, key_text


def _needs_owner_history(
    found: Snapshot, owners: dict[str, str], user: str | None, layers: Mapping[str, Layer]
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
    full: Snapshot,
    channel_name: str,
    anchor: str,
    since: tuple[str, int] | None,
    user: str | None,
    layers: Mapping[str, Layer],
) -> Snapshot:
    """The anchor's state (``full``, or the changes since ``since``) as ``user`` may see it."""
    # Proportional to the whole anchor: a large one is cut in a worker thread, not on the event loop.
    size = len(full.records)
    owners = await offload.sized(size, snapshot_owners, full.records, layers)
    if since is not None:
        found = await get_cache().snapshot(channel_name, anchor, since)
        if (
            found is not None
            and not found.reset
            and (found.epoch, found.version) == (full.epoch, full.version)
            and not _needs_owner_history(found, owners, user, layers)
        ):
            records, deleted = visible_to(found.records, found.deleted, user, owners, {}, layers)
            return Snapshot(found.epoch, found.version, False, records, deleted)
    records, deleted = await offload.sized(size, visible_to, full.records, [], user, owners, {}, layers)
    return Snapshot(full.epoch, full.version, True, records, deleted)
