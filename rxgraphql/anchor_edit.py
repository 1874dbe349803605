"""The anchor edit: how a batch of changed rows edits the cached records of one anchor.

The write path renders each changed row once per batch (``Changes``); every anchor holding one of them,
or one of the parents their foreign keys name, is then edited through its ``AnchorEdit`` (a backend's
working view of the anchor under its lock, see ``backends.base``) in three steps:

1. **refresh**: the changed records the anchor holds are put again, and so are the cached parents whose
   child-id list the change can alter (``relists.ListCheck``: the child joins, leaves or moves within
   the list; a title edit re-renders no parent); a row that is gone removes its record. A changed record
   may come rendered only in the fields its change can alter, completed with the record the anchor
   holds; a parent is always rendered whole;
2. **fill**: every record newly referenced and missing from the anchor comes in with its subtree;
3. **collect**: every record no longer referenced by anything in the anchor is deleted, with the
   children that only it referred to (layers form no cycle).

The backend's ``commit`` then turns what changed into one patch. Reads go through the edit's batch
hints (``preload``, ``preload_referrers``, ``missing``), so a shared backend asks its store a constant
number of times per step whatever the length of the lists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from django.db import models

from .backends.base import AnchorEdit
from .layers import Layer
from .records import Record, RecordKey, child_keys, reverse_parent_keys
from .relists import ListCheck


class Renders(Protocol):
    """The records of one batch rendered from the database, each key read at most once."""

    @property
    def layers(self) -> Mapping[str, Layer]:
        """The channel's layers by type name."""
        ...

    def load_changed(self, fields: Mapping[RecordKey, frozenset[str] | None]) -> None:
        """Render the changed keys (with the fields each change altered, None: any), possibly only the
        fields of their records those changes can alter (``get`` completes them)."""
        ...

    def load(self, keys: Iterable[RecordKey]) -> None:
        """Render these keys now, in as few reads as possible (a hint before ``get``)."""
        ...

    def get(self, key: RecordKey, held: Record | None = None) -> Record | None:
        """The key's record as the database has it now (None: the row is gone). ``held``: the record as
        the anchor holds it, which completes a changed record rendered only in part; without it the
        record is rendered whole."""
        ...

    def row(self, key: RecordKey) -> models.Model | None:
        """The row a loaded key rendered from (None: gone)."""
        ...


@dataclass(frozen=True)
class Changes:
    """The changed rows of one batch, rendered, as every anchor edit of the batch sees them."""

    renders: Renders
    #: Per changed key, the model fields its change may have altered (None: any of them).
    fields: Mapping[RecordKey, frozenset[str] | None]
    #: Per changed key, the parents its foreign keys name now (a row may join their lists).
    new_parents: Mapping[RecordKey, frozenset[RecordKey]] = field(default_factory=dict)

    @property
    def keys(self) -> Collection[RecordKey]:
        return self.fields.keys()

    def candidates(self) -> set[RecordKey]:
        """The keys whose holders are the anchors to edit: the changed ones and their new parents."""
        return {*self.keys, *(parent for parents in self.new_parents.values() for parent in parents)}


def changes_of(renders: Renders, fields: Mapping[RecordKey, frozenset[str] | None]) -> Changes:
    """Render the changed keys and find the parents their rows point at."""
    renders.load_changed(fields)
    new_parents: dict[RecordKey, frozenset[RecordKey]] = {}
    for key in fields:
        row = renders.row(key)
        if row is not None:
            new_parents[key] = frozenset(reverse_parent_keys(renders.layers[key[0]], row))
    return Changes(renders, fields, new_parents)


def edit_anchor(edit: AnchorEdit, changes: Changes) -> list[RecordKey]:
    """Bring the anchor's records in line with the changed rows (see the module docstring); returns the
    keys of the records the edit brought in."""
    renders = changes.renders
    layers = renders.layers
    changed, relisted = _to_refresh(edit, changes)
    refreshed = changed | relisted
    renders.load(refreshed)
    # A parent re-rendered for its child may be gone as well (deleted since, its own change still to
    # come): the records listing it are re-rendered too, or they would go on listing it once it is removed.
    gone = [key for key in refreshed if renders.row(key) is None]
    while gone:
        edit.preload_referrers(gone)
        listing = {parent for key in gone for parent in edit.referrers(key)} - refreshed
        edit.preload(listing)
        refreshed |= listing
        relisted |= listing
        renders.load(listing)
        gone = [key for key in listing if renders.row(key) is None]
    orphans: list[RecordKey] = []
    added: list[RecordKey] = []
    for key in refreshed:
        old = edit.get(key)
        old_refs = set(child_keys(old, layers[key[0]])) if old is not None else set()
        # Re-rendered as a parent, its lists may have changed: only a whole render tells.
        new = renders.get(key, None if key in relisted else old)
        if new is None:
            edit.remove(key)
            orphans.extend(old_refs)
            continue
        new_refs = list(child_keys(new, layers[key[0]]))
        edit.put(key, new, new_refs)
        orphans.extend(old_refs.difference(new_refs))
        added.extend(new_refs)
    brought = _fill_missing(edit, added, renders)
    _collect_garbage(edit, orphans, layers)
    return brought


def _to_refresh(edit: AnchorEdit, changes: Changes) -> tuple[set[RecordKey], set[RecordKey]]:
    """The changed records the anchor holds, and the cached records whose child lists may change."""
    layers = changes.renders.layers
    keys = list(changes.keys)
    edit.preload([*keys, *(p for parents in changes.new_parents.values() for p in parents)])
    edit.preload_referrers(keys)
    edit.preload(r for key in keys if edit.get(key) is not None for r in edit.referrers(key))
    changed: set[RecordKey] = set()
    relisted: set[RecordKey] = set()
    for key in keys:
        check = ListCheck(layers[key[0]], key, changes.renders.row(key), changes.fields.get(key))
        if edit.get(key) is not None:
            changed.add(key)
            for parent in edit.referrers(key):
                if check.may_change(layers[parent[0]], parent, edit.get(parent)):
                    relisted.add(parent)
        for parent in changes.new_parents.get(key, ()):
            if check.may_change(layers[parent[0]], parent, edit.get(parent)):
                relisted.add(parent)
    return changed, relisted


def _fill_missing(edit: AnchorEdit, refs: Iterable[RecordKey], renders: Renders) -> list[RecordKey]:
    """Bring in every referenced record the anchor lacks, with its subtree; returns their keys."""
    brought: list[RecordKey] = []
    frontier = edit.missing(refs)
    while frontier:
        renders.load(frontier)
        following: list[RecordKey] = []
        for key in frontier:
            if edit.get(key) is not None:
                continue
            record = renders.get(key)
            if record is None:
                continue
            refs_of = list(child_keys(record, renders.layers[key[0]]))
            edit.put(key, record, refs_of)
            brought.append(key)
            following.extend(refs_of)
        frontier = edit.missing(following)
    return brought


def _collect_garbage(edit: AnchorEdit, orphans: list[RecordKey], layers: Mapping[str, Layer]) -> None:
    """Delete the records no longer referenced by anything in the anchor (layers form no cycle)."""
    edit.preload(orphans)
    edit.preload_referrers(orphans)
    while orphans:
        key = orphans.pop()
        if key == edit.root:
            continue
        record = edit.get(key)
        if record is None or edit.referrers(key):
            continue
        edit.remove(key)
        children = list(child_keys(record, layers[key[0]]))
        edit.preload(children)
        edit.preload_referrers(children)
        orphans.extend(children)
