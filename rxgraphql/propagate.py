"""Applies committed row changes to the hot anchors that show them, and publishes one patch per anchor.

For each channel showing a changed row, in phases:

1. **plan** (shared caches): the anchors to lock, from the changed keys and the parents their foreign
   keys name (one ``values_list`` per layer), before anything is rendered;
2. **lock**, then open the database snapshot (``consistent_reads``): locks always come first, so the
   last writer of a record renders the newest committed row; the embedded cache takes ``local_edits``;
3. **read**: render each changed row once and find the anchors holding it or its new parents (a shared
   cache reads their cached records in the same query); an anchor the plan missed is locked too and
   the read starts again, in a plain loop;
4. **edit** each anchor (``anchor_edit``) and **publish** its patch.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING

from django.db import models

from . import metrics
from .anchor_edit import Changes, changes_of, edit_anchor
from .backends import Broker, RecordCache
from .carried_rows import Values, row_from_values
from .heap import FREEZE_RECORDS, paused_gc, release_rows
from .layers import EdgeKind, Layer
from .membership import publish_membership
from .ownership import OwnershipTracker
from .records import (
    Record,
    RecordKey,
    child_keys,
    columns_read,
    completes,
    consistent_reads,
    fetch_fields,
    fetch_records,
    field_names,
    fields_to_render,
    prefetched_children,
    reads_own_columns,
    render_fields,
    render_rows,
)
from .registry import registry
from .stream import anchor_topic

if TYPE_CHECKING:
    from .channel import ContextChannel

logger = logging.getLogger("rxgraphql.propagate")

RowChange = tuple[type[models.Model], str]
#: The model fields a change may have altered (a save's ``update_fields``); None: any of them.
ChangedFields = Mapping[RowChange, Collection[str] | None]


#: Serialises the edits of this process's embedded cache (its anchor locks are no-ops). Taken before the
#: snapshot, as the shared cache's anchor locks are: the outbox propagator and the flusher (heat
#: backlogs) of one process never edit at once, so the last edit of a record renders the newest row.
local_edits = threading.Lock()


class _Records:
    """Rendered records of one batch, read from the database at most once per key.

    ``heating``: a level's rows come from what its parents' read prefetched when they can, so that
    every row of the anchor is read once.

    Changed rows of one layer with the fields their changes altered known are read by their columns
    alone (one statement for all of them), and only the fields of their records that those changes can
    alter are rendered (``records.fields_to_render``): ``get`` completes them with the record as an
    anchor holds it, and renders the whole record only for an anchor that does not hold it yet. Several
    rows are read so only when those fields render from their own columns: a method field would run its
    queries once per row, where a whole render prefetches what it reads for all of them.
    """

    def __init__(
        self,
        layers: dict[str, Layer],
        heating: bool = False,
        carried: Mapping[RecordKey, Values] | None = None,
    ) -> None:
        self.layers = layers
        #: Changed rows' columns as their notifications carried them (``carried_rows``).
        self.carried = carried or {}
        self.found: dict[RecordKey, Record | None] = {}
        self.rows: dict[RecordKey, models.Model] = {}
        self.heating = heating
        self.prefetched: dict[RecordKey, models.Model] = {}
        #: Partly rendered records (the fields their change can alter), by key.
        self.partial: dict[RecordKey, Record] = {}

    def load_changed(self, fields: Mapping[RecordKey, frozenset[str] | None]) -> None:
        """Render the changed keys, partly where the class docstring says."""
        by_type: dict[str, list[RecordKey]] = defaultdict(list)
        for key in fields:
            by_type[key[0]].append(key)
        whole: list[RecordKey] = []
        for type_name, keys in by_type.items():
            layer = self.layers[type_name]
            wanted: dict[str, list[str]] = {}
            for key in keys:
                names = fields[key]
                found = None if names is None else fields_to_render(layer, names)
                if found is None or key in self.found or key in self.partial:
                    break
                wanted[key[1]] = found
            # Several rows: only fields of their own columns (a method field would query once per row,
            # where a whole render prefetches what it reads for all of them).
            own_columns = all(reads_own_columns(layer, names) for names in wanted.values())
            if len(wanted) < len(keys) or (len(keys) > 1 and not own_columns):
                whole.extend(keys)
                continue
            hits = self._from_carried(layer, wanted) if self.carried else None
            if hits is None:
                hits = fetch_fields(layer, wanted)
            for pk in wanted:
                hit = hits.get(pk)
                if hit is None:
                    self.found[(type_name, pk)] = None
                else:
                    self.rows[(type_name, pk)], self.partial[(type_name, pk)] = hit
        self.load(whole)

    def _from_carried(
        self, layer: Layer, wanted: Mapping[str, list[str]]
    ) -> dict[str, tuple[models.Model, Record]] | None:
        """What ``fetch_fields`` would give, built from the carried columns; None unless they hold
        everything every one of these rows' fields reads."""
        hits: dict[str, tuple[models.Model, Record]] = {}
        for pk, names in wanted.items():
            values = self.carried.get((layer.type_name, pk))
            reads = columns_read(layer, names)
            row = None if values is None or reads is None else row_from_values(layer.model, values, reads)
            if row is None or str(row.pk) != pk:
                return None
            hits[pk] = (row, render_fields(layer, row, names))
        return hits

    def load(self, keys: Iterable[RecordKey]) -> None:
        wanted: dict[str, list[str]] = defaultdict(list)
        for key in keys:
            if key not in self.found and key not in self.partial:
                wanted[key[0]].append(key[1])
        for type_name, pks in wanted.items():
            layer = self.layers[type_name]
            fetched = self._heat_level(layer, pks) if self.heating else fetch_records(layer, pks)
            for pk in pks:
                hit = fetched.get(pk)
                key = (type_name, pk)
                if hit is None:
                    self.found[key] = None
                else:
                    self.rows[key], self.found[key] = hit

    def _heat_level(self, layer: Layer, pks: list[str]) -> dict[str, tuple[models.Model, Record]]:
        ready = [row for pk in pks if (row := self.prefetched.pop((layer.type_name, pk), None)) is not None]
        fetched = render_rows(layer, ready)
        missing = [pk for pk in pks if pk not in fetched]
        if missing:
            fetched.update(fetch_records(layer, missing, nested=True))
        rows = [row for row, _ in fetched.values()]
        for key, child in prefetched_children(layer, rows):
            self.prefetched.setdefault(key, child)
        return fetched

    def get(self, key: RecordKey, held: Record | None = None) -> Record | None:
        part = self.partial.get(key)
        if part is not None:
            if held is not None and completes(self.layers[key[0]], held):
                return {**held, **part}
            del self.partial[key]  # an anchor without it needs all of it (and then so do the others)
        self.load([key])
        return self.found[key]

    def row(self, key: RecordKey) -> models.Model | None:
        return self.rows.get(key)


def needed(changes: Iterable[RowChange], cache: RecordCache | None) -> list[RowChange]:
    """The changed rows worth propagating: some channel showing the model has an active anchor (this
    process's view, no round trip; no cache: none) or announces its anchor rows (``Meta.auto_update``).

    Checked once the change is committed, so an anchor that starts heating afterwards reads the row.
    """
    kept = []
    for model, pk in changes:
        for channel, layer in registry.by_model.get(model, ()):
            if (channel._meta.auto_update and layer is channel._meta.layers.root) or (
                cache is not None and cache.active_anchors(channel._meta.channel_name)
            ):
                kept.append((model, pk))
                break
    return kept


@metrics.traced("rxgraphql.propagate")
def propagate(
    changes: Iterable[RowChange],
    cache: RecordCache,
    broker: Broker,
    changed_fields: ChangedFields | None = None,
    carried: Mapping[RowChange, Values] | None = None,
) -> int:
    """Bring every hot anchor up to date with these changed rows; returns the number of patches.

    ``changed_fields`` names, per row, the model fields its changes may have altered (the union of the
    ``update_fields`` of its saves); a row absent from it, or mapped to None, may have changed anywhere.
    They let a save that moves no row within or between its parents' lists re-render no parent.
    ``carried``: per row, its committed columns as its notification carried them (``carried_rows``;
    embedded backends only), which spare reading it back when they hold what its re-render reads.
    """
    fields_of: dict[tuple[str, str], frozenset[str] | None] = {}
    for (model, pk), names in (changed_fields or {}).items():
        fields_of[(model._meta.label, pk)] = None if names is None else frozenset(names)
    values_of = {(model._meta.label, pk): values for (model, pk), values in (carried or {}).items()}
    per_channel: dict[type[ContextChannel], set[tuple[Layer, str]]] = defaultdict(set)
    backlog: dict[type[ContextChannel], list[tuple[str, str]]] = defaultdict(list)
    anchor_rows: dict[type[ContextChannel], list[str]] = defaultdict(list)
    for model, pk in changes:
        for channel, layer in registry.by_model.get(model, ()):
            per_channel[channel].add((layer, pk))
            backlog[channel].append((model._meta.label, pk))
            if channel._meta.auto_update and layer is channel._meta.layers.root:
                anchor_rows[channel].append(pk)
    patches = 0
    for channel, dirty in per_channel.items():
        # The one cheap check of a save nobody watches: a per-process view, no round trip.
        if not cache.active_anchors(channel._meta.channel_name):
            continue
        for anchor in list(cache.heating_anchors(channel._meta.channel_name)):
            cache.note_backlog(channel._meta.channel_name, anchor, backlog[channel])
        if cache.shared:
            patches += _propagate_locked(channel, dirty, fields_of, cache, broker)
        else:
            patches += _propagate_local(channel, dirty, fields_of, cache, broker, values_of)
    # After the patches: a list subscription that adds an anchor on this message reads it up to date.
    for channel, pks in anchor_rows.items():
        publish_membership(broker, channel, pks)
    return patches


def _propagate_locked(
    channel: type[ContextChannel],
    dirty: set[tuple[Layer, str]],
    fields_of: Mapping[tuple[str, str], frozenset[str] | None],
    cache: RecordCache,
    broker: Broker,
) -> int:
    """Propagate while holding the locks of every anchor edited, taken BEFORE the database snapshot.

    Writers of several processes then edit one anchor one after the other, each reading a snapshot taken
    after the previous one released the lock, so the last edit of a record always renders the newest
    committed row. The plan names the anchors to lock from the keys and foreign keys alone; a row whose
    rendered parents are held by an anchor the plan missed (it moved meanwhile) locks that one too and
    reads again.

    The locks cover the records an anchor holds, not those an edit brings in: another process may change
    a record while this edit adds it from an older snapshot, and that change's propagation, finding no
    anchor holding the record yet, edits none. So the records an edit brought in are read again, in a
    snapshot taken after its write and under the same locks, until an edit brings none in: a propagation
    that found no holder looked before that write, after its change had committed.
    """
    layers = {layer.type_name: layer for layer in channel._meta.layers}
    locked = _anchors_to_lock(channel, dirty, fields_of, cache)
    patches = 0
    while dirty and locked:
        with cache.lock(channel._meta.channel_name, sorted(locked)):
            while dirty:
                with consistent_reads(channel._meta.layers.root.model):
                    changes, anchors = _read(channel, dirty, fields_of, cache, preload=True)
                    if not anchors <= locked:
                        break  # lock those too and read again
                    added: set[RecordKey] = set()
                    patches += _edit_and_publish(channel, changes, anchors, cache, broker, dirty, added)
                dirty = {(layers[type_name], pk) for type_name, pk in added}
                fields_of = {}  # any of their fields may have changed since
        locked |= anchors
    return patches


def _propagate_local(
    channel: type[ContextChannel],
    dirty: set[tuple[Layer, str]],
    fields_of: Mapping[tuple[str, str], frozenset[str] | None],
    cache: RecordCache,
    broker: Broker,
    values_of: Mapping[tuple[str, str], Values] | None = None,
) -> int:
    """Propagate into this process's embedded cache, under ``local_edits`` taken before the snapshot."""
    with local_edits, consistent_reads(channel._meta.layers.root.model):
        changes, anchors = _read(channel, dirty, fields_of, cache, preload=False, values_of=values_of)
        return _edit_and_publish(channel, changes, anchors, cache, broker, dirty)


def _read(
    channel: type[ContextChannel],
    dirty: set[tuple[Layer, str]],
    fields_of: Mapping[tuple[str, str], frozenset[str] | None],
    cache: RecordCache,
    preload: bool,
    values_of: Mapping[tuple[str, str], Values] | None = None,
) -> tuple[Changes, set[str]]:
    """Render the changed rows and find the anchors to edit: those holding them or their new parents."""
    layers = {layer.type_name: layer for layer in channel._meta.layers}
    fields = {(layer.type_name, pk): fields_of.get((layer.model._meta.label, pk)) for layer, pk in dirty}
    carried: dict[RecordKey, Values] = {}
    if values_of:
        for layer, pk in dirty:
            values = values_of.get((layer.model._meta.label, pk))
            if values is not None:
                carried[(layer.type_name, pk)] = values
    changes = changes_of(_Records(layers, carried=carried), fields)
    holders = cache.anchors_containing(channel._meta.channel_name, changes.candidates(), preload=preload)
    return changes, {anchor for anchors in holders.values() for anchor in anchors}


@metrics.traced("rxgraphql.publish")
def _edit_and_publish(
    channel: type[ContextChannel],
    changes: Changes,
    anchors: Collection[str],
    cache: RecordCache,
    broker: Broker,
    dirty: set[tuple[Layer, str]],
    added: set[RecordKey] | None = None,
) -> int:
    """Edit each anchor (``anchor_edit``) and publish its patch; the number of patches. ``added`` receives
    the keys of the records the edits brought in."""
    layers = {layer.type_name: layer for layer in channel._meta.layers}
    patches = 0
    for anchor in sorted(anchors):
        with cache.edit(channel._meta.channel_name, anchor) as edit:
            if edit is None:
                continue
            tracker = OwnershipTracker(edit, layers) if channel._meta.per_user else None
            brought = edit_anchor(tracker or edit, changes)
            if added is not None:
                added.update(brought)
            patch = edit.commit()
            if patch is not None:
                if tracker is not None:
                    tracker.annotate(patch)
                metrics.patch_published(channel._meta.channel_name, anchor, patch, dirty)
                broker.publish(anchor_topic(channel._meta.channel_name, anchor), patch.encode())
                patches += 1
    return patches


def _may_move(layer: Layer, fields: frozenset[str] | None) -> bool:
    """Whether a change of these fields (None: any) can point the row at other parents."""
    if fields is None:
        return True
    names = field_names(layer.model, fields)
    for edge in layer.parents:
        if edge.kind is not EdgeKind.REVERSE:
            continue
        if edge.child_fk_attname is None or edge.child_fk_attname in names:
            return True
    return False


def _anchors_to_lock(
    channel: type[ContextChannel],
    dirty: set[tuple[Layer, str]],
    fields_of: Mapping[tuple[str, str], frozenset[str] | None],
    cache: RecordCache,
) -> set[str]:
    """The anchors holding the changed rows or the parents their foreign keys name, from the keys alone.

    Only the rows whose change may have moved them (``_may_move``) have their foreign keys read: the
    others point at the parents they had. A plan that misses an anchor costs one more read under more
    locks, never a wrong edit (see ``_propagate_locked``).
    """
    candidates = {(layer.type_name, pk) for layer, pk in dirty}
    by_type: dict[Layer, list[str]] = defaultdict(list)
    for layer, pk in dirty:
        if _may_move(layer, fields_of.get((layer.model._meta.label, pk))):
            by_type[layer].append(pk)
    for layer, pks in by_type.items():
        edges = [e for e in layer.parents if e.kind is EdgeKind.REVERSE and e.child_fk_attname is not None]
        attnames = list(dict.fromkeys(str(e.child_fk_attname) for e in edges))
        if not attnames:
            continue
        for values in layer.model._default_manager.filter(pk__in=pks).values_list(*attnames):
            found = dict(zip(attnames, values, strict=True))
            for edge in edges:
                value = found[str(edge.child_fk_attname)]
                if value is not None:
                    candidates.add((edge.parent.type_name, str(value)))
    holders = cache.anchors_containing(channel._meta.channel_name, candidates)
    return {anchor for anchors in holders.values() for anchor in anchors}


def heat_records(
    channel: type[ContextChannel], anchor_pk: str
) -> tuple[RecordKey, list[tuple[RecordKey, Record, list[RecordKey]]]] | None:
    """Render a whole anchor flat, parents before children; None when the anchor row does not exist.

    The collector is paused meanwhile, and a large anchor's records leave its generations (see heap.py).
    """
    with paused_gc() as pause, consistent_reads(channel._meta.layers.root.model):
        heated = _heat_records(channel, anchor_pk)
        pause.freeze = heated is not None and len(heated[1]) >= FREEZE_RECORDS
        return heated


def _heat_records(
    channel: type[ContextChannel], anchor_pk: str
) -> tuple[RecordKey, list[tuple[RecordKey, Record, list[RecordKey]]]] | None:
    layers = {layer.type_name: layer for layer in channel._meta.layers}
    records = _Records(layers, heating=True)
    try:
        root_key = (channel._meta.layers.root.type_name, anchor_pk)
        if records.get(root_key) is None:
            return None
        out: list[tuple[RecordKey, Record, list[RecordKey]]] = []
        seen: set[RecordKey] = set()
        frontier = [root_key]
        while frontier:
            records.load(frontier)
            following: list[RecordKey] = []
            for key in frontier:
                record = records.found[key]
                if key in seen or record is None:
                    continue
                seen.add(key)
                refs = list(child_keys(record, layers[key[0]]))
                out.append((key, record, refs))
                following.extend(r for r in refs if r not in seen)
            frontier = list(dict.fromkeys(following))
        return root_key, out
    finally:
        # The rows are reference cycles: freed here one by one rather than by a collection (heap.py).
        release_rows(records.rows)
        release_rows(records.prefetched)
