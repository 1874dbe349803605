"""Merging the consecutive patches of one anchor into one, for subscribers that could not keep up.

The merged patch leaves a listener in the state the patches would have left it in one after the other:
the last version of each record, deletions of what ends up deleted (a record deleted then created again is
an upsert), the owners of the last patch that names them and the owners records had before the first one.
A reset drops what came before it; patches of different epochs are never merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .records import Record, RecordKey
from .stream import Patch

KeyOf = Callable[[Record], RecordKey]


def merge_patches(patches: Iterable[Patch], key_of: KeyOf) -> list[Patch]:
    """The patches, consecutive ones of one epoch merged (a single patch is returned as it is)."""
    merged: list[Patch] = []
    run: list[Patch] = []
    for patch in patches:
        if patch.reset:  # its listeners drop what they held: what came before need not be sent
            merged, run = [], []
        elif run and patch.epoch != run[0].epoch:
            merged.append(_merged(run, key_of))
            run = []
        run.append(patch)
    if run:
        merged.append(_merged(run, key_of))
    return merged


def _merged(run: list[Patch], key_of: KeyOf) -> Patch:
    if len(run) == 1:
        return run[0]
    first, last = run[0], run[-1]
    records: dict[RecordKey, Record] = {}
    deleted: dict[RecordKey, None] = {}
    owners: dict[str, str] = {}
    previous: dict[str, str] = {}
    for patch in run:
        for key in patch.deleted:
            records.pop(key, None)
            if not first.reset:
                deleted[key] = None
        for record in patch.records:
            key = key_of(record)
            deleted.pop(key, None)
            records.pop(key, None)  # moved to the end: the order of the last write
            records[key] = record
        owners.update(patch.owners)
        for key_text, owner in patch.previous_owners.items():
            previous.setdefault(key_text, owner)
    return Patch(
        channel=last.channel,
        anchor=last.anchor,
        epoch=last.epoch,
        version=max(patch.version for patch in run),
        records=list(records.values()),
        deleted=list(deleted),
        reset=first.reset,
        owners=owners,
        previous_owners=previous,
    )
