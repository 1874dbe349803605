"""Flat records: reading rows of a layer from the database and rendering them with the flat serializer.

A record is a plain dict: the flat serializer's output plus ``__typename`` (the layer's GraphQL type).
Records are keyed by ``(type name, str(primary key))``.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from django.db.models.lookups import Lookup
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject

from .layers import ID_LISTS_ATTR, Edge, EdgeKind, IdLists, Layer
from .method_reads import declared_reads
from .row_reads import rows_by_pk
from .snapshot_begin import snapshot

Record = dict[str, Any]
RecordKey = tuple[str, str]

TYPENAME = "__typename"


def child_keys(record: Record, layer: Layer) -> Iterator[RecordKey]:
    """The keys of the records this record refers to through its nested fields."""
    for edge in layer.children:
        value = record.get(edge.field_name)
        if value is None:
            continue
        if edge.many:
            for pk in value:
                yield (edge.child.type_name, str(pk))
        else:
            yield (edge.child.type_name, str(value))


def renders_from_own_row(layer: Layer) -> bool:
    """Whether the layer's flat record depends only on its row's columns and its children's id lists.

    Such a layer needs no child row to render (its id lists are read as ids) and its record changes only
    when its row or one of its lists does. A method field, a property, a dotted source, a related field
    other than a primary key or an overridden ``to_representation`` may read anything: those layers are
    rendered with their nested relations prefetched, and re-rendered whenever a child changes.
    """
    return _renders_from_own_row(layer)


@functools.cache
def _renders_from_own_row(layer: Layer) -> bool:
    for klass in layer.flat_serializer_class.__mro__:
        if "to_representation" in klass.__dict__:
            if not klass.__module__.startswith("rest_framework"):
                return False
            break
    nested = {edge.field_name for edge in layer.children}
    own = {"pk"}
    for model_field in layer.model._meta.concrete_fields:
        own.update((model_field.name, model_field.attname))
    for name, field in _flat_serializer(layer).fields.items():
        if name in nested:
            continue
        if isinstance(field, serializers.SerializerMethodField | serializers.ManyRelatedField):
            return False
        if isinstance(field, serializers.RelatedField) and not isinstance(
            field, serializers.PrimaryKeyRelatedField
        ):
            return False
        if field.source == "*" or len(field.source_attrs) != 1 or field.source_attrs[0] not in own:
            return False
    return True


def field_names(model: type[models.Model], names: Collection[str]) -> frozenset[str]:
    """The names and attnames of these fields (``update_fields`` may use either)."""
    found: set[str] = set()
    for name in names:
        found.add(name)
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        found.add(field.name)
        attname = getattr(field, "attname", None)
        if attname:
            found.add(attname)
    return frozenset(found)


#: A flat field whose value may depend on anything (see ``_field_reads``).
ANYTHING = None


def fields_to_render(layer: Layer, changed: Collection[str]) -> list[str] | None:
    """The flat serializer's fields a change of these model fields can alter; None when only rendering
    the whole record can tell (the serializer overrides ``to_representation``).

    A field reading one column of the row changes only with that column; a nested list only with its
    children's rows or through table, whose own changes re-render the record as their parent; a method
    field, a property, a dotted source or a related field other than a primary key may read anything,
    so it is always rendered again; a method field declaring what it reads (``rxgraphql.reads``), only
    when one of those columns changed.
    """
    reads = _field_reads(layer)
    if reads is None:
        return None
    names = field_names(layer.model, changed)
    return [name for name, read in reads.items() if read is ANYTHING or not read.isdisjoint(names)]


@functools.cache
def _field_reads(layer: Layer) -> dict[str, frozenset[str] | None] | None:
    """Per flat-serializer field, the row's columns (names and attnames) its value reads; ``ANYTHING``
    for a field that may read anything; None when the serializer overrides ``to_representation``."""
    for klass in layer.flat_serializer_class.__mro__:
        if "to_representation" in klass.__dict__:
            if not klass.__module__.startswith("rest_framework"):
                return None
            break
    columns: dict[str, frozenset[str]] = {}
    for model_field in layer.model._meta.concrete_fields:
        columns[model_field.name] = columns[model_field.attname] = frozenset(
            (model_field.name, model_field.attname)
        )
    pk = layer.model._meta.pk
    assert pk is not None
    columns["pk"] = frozenset(("pk", pk.name, pk.attname))
    edges = {edge.field_name: edge for edge in layer.children}
    reads: dict[str, frozenset[str] | None] = {}
    for name, field in _flat_serializer(layer).fields.items():
        if field.write_only:
            continue
        if isinstance(field, serializers.SerializerMethodField):
            declared = declared_reads(layer.flat_serializer_class, str(field.method_name))
            if declared is not None:  # its own columns among them; a relation's children say the rest
                reads[name] = frozenset().union(*(columns.get(read, frozenset()) for read in declared))
                continue
        edge = edges.get(name)
        if edge is not None and edge.kind is not EdgeKind.OPAQUE and edge.kind is not EdgeKind.FORWARD:
            reads[name] = frozenset()  # a list (or a reverse one-to-one): its children's rows say
            continue
        plain = isinstance(field, serializers.PrimaryKeyRelatedField) or not isinstance(
            field, serializers.RelatedField | serializers.ManyRelatedField | serializers.SerializerMethodField
        )
        own = field.source != "*" and len(field.source_attrs) == 1 and field.source_attrs[0] in columns
        reads[name] = columns[field.source_attrs[0]] if plain and own else ANYTHING
    return reads


def completes(layer: Layer, held: Record) -> bool:
    """Whether a held record has exactly the fields the layer renders now (a record cached before the
    serializer changed is rendered whole, not completed)."""
    return held.keys() == _record_fields(layer)


@functools.cache
def _record_fields(layer: Layer) -> frozenset[str]:
    names = {str(field.field_name) for field in _flat_serializer(layer)._readable_fields}
    return frozenset((*names, TYPENAME))


def render_fields(layer: Layer, row: models.Model, names: Collection[str]) -> Record:
    """Some fields of a row's flat record, rendered as the serializer's ``to_representation`` does."""
    wanted = set(names)
    record: Record = {}
    for field in _readable_fields(layer):
        if field.field_name not in wanted:
            continue
        try:
            attribute = field.get_attribute(row)
        except SkipField:
            continue
        present = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
        record[field.field_name] = None if present is None else field.to_representation(attribute)
    return record


def fetch_fields(
    layer: Layer, wanted: Mapping[str, Collection[str]]
) -> dict[str, tuple[models.Model, Record]]:
    """Read rows (their columns only, one statement) and render, per primary key, these fields of its
    record; a row that is gone is absent. A field reading a relation reads it when rendered, in the same
    transaction."""
    rows = rows_by_pk(layer.model, list(wanted))
    return {str(row.pk): (row, render_fields(layer, row, wanted[str(row.pk)])) for row in rows}


def reads_own_columns(layer: Layer, names: Collection[str]) -> bool:
    """Whether these fields of the layer's records render from the row's own columns alone (no method
    field, property or relation)."""
    reads = _field_reads(layer)
    if reads is None:
        return False
    flat = _flat_serializer(layer).fields
    return all(
        bool(reads.get(name)) and not isinstance(flat[name], serializers.SerializerMethodField)
        for name in names
    )


def columns_read(layer: Layer, names: Collection[str]) -> frozenset[str] | None:
    """The row's columns (names and attnames) these fields of its records read; None unless each reads
    its own columns alone (``reads_own_columns``)."""
    reads = _field_reads(layer)
    if reads is None or not reads_own_columns(layer, names):
        return None
    return frozenset().union(*(reads[name] or frozenset() for name in names))


def _listed_edges(layer: Layer) -> list[Edge]:
    """The nested lists whose ids are read without instantiating the children (a foreign key to
    something else than the parent's primary key is read through the relation instead)."""
    return [
        edge
        for edge in layer.children
        if edge.many
        and edge.parent_lookup
        and (edge.kind is EdgeKind.MANY_TO_MANY or (edge.kind is EdgeKind.REVERSE and _links_to_pk(edge)))
    ]


def _links_to_pk(edge: Edge) -> bool:
    field = edge.child.model._meta.get_field(str(edge.parent_lookup))
    target = getattr(field, "target_field", None)
    return target is not None and bool(target.primary_key)


def prefetched_edges(layer: Layer) -> list[Edge]:
    """The nested lists read as rows (prefetched) rather than as ids."""
    if renders_from_own_row(layer):
        return []
    return [
        edge
        for edge in layer.children
        if edge.many and edge.kind in (EdgeKind.REVERSE, EdgeKind.MANY_TO_MANY)
    ]


def _queryset(layer: Layer, nested: bool = False) -> models.QuerySet[Any]:
    """The layer's rows with the relations its flat serializer reads fetched in bulk.

    A layer rendering from its own row gets its lists as ids (``attach_id_lists``); the others get their
    nested relations prefetched, which their method fields may rely on. ``nested`` (heating): the
    prefetched children come ready to be rendered by their own layer, so that level reads no row again.
    """
    qs = layer.model._default_manager.all()
    prefetch, select = _relations(layer, nested)
    if prefetch:
        qs = qs.prefetch_related(*prefetch)
    if select:
        qs = qs.select_related(*select)
    return qs


def _relations(layer: Layer, nested: bool) -> tuple[list[str | models.Prefetch[Any]], list[str]]:
    """What ``_queryset`` prefetches and what it joins."""
    prefetch: list[str | models.Prefetch[Any]] = []
    for edge in prefetched_edges(layer):
        if nested:
            prefetch.append(models.Prefetch(edge.source, queryset=_queryset(edge.child, nested=True)))
        else:
            prefetch.append(edge.source)
    select = [edge.source for edge in layer.children if not edge.many and edge.kind is EdgeKind.REVERSE]
    return prefetch, select


class _AnyOf(Lookup):
    """``column = ANY(%s::type[])``: a set of keys bound as one array parameter (PostgreSQL)."""

    lookup_name = "rx_any"
    prepare_rhs = False

    def __init__(self, lhs: Any, rhs: Any, db_type: str) -> None:
        self.db_type = db_type
        super().__init__(lhs, rhs)

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs_sql, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs_sql} = ANY(%s::{self.db_type}[])", (*lhs_params, list(self.rhs))


def in_values(qs: models.QuerySet[Any], attname: str, values: list[Any]) -> models.QuerySet[Any]:
    """``qs`` filtered on a column of its model taking one of ``values``: one array parameter on
    PostgreSQL (one statement shape whatever the count), ``IN (...)`` elsewhere."""
    model_field = qs.model._meta.get_field(attname) if attname != "pk" else qs.model._meta.pk
    assert model_field is not None
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return qs.filter(**{f"{attname}__in": values})
    target = getattr(model_field, "target_field", model_field)
    prepared = [target.to_python(value) for value in values]
    column = model_field.attname if attname != "pk" else "pk"
    return qs.filter(_AnyOf(models.F(column), prepared, target.rel_db_type(connection)))


def attach_id_lists(layer: Layer, rows: list[models.Model]) -> None:
    """Read the id lists of these rows' nested lists, one statement per list, without child rows."""
    if not rows or not renders_from_own_row(layer):
        return
    pks = [row.pk for row in rows]
    lists: dict[Any, dict[str, IdLists]] = {pk: {} for pk in pks}
    for edge in _listed_edges(layer):
        for found in lists.values():
            found[edge.field_name] = IdLists()
        child_manager = edge.child.model._default_manager
        lookup = str(edge.parent_lookup)
        if edge.kind is EdgeKind.REVERSE and edge.child_fk_attname is not None:
            qs = in_values(child_manager.all(), edge.child_fk_attname, pks)
        else:
            qs = child_manager.filter(**{f"{lookup}__in": pks})
        for parent_pk, child_pk in qs.values_list(lookup, "pk"):
            lists[parent_pk][edge.field_name].append(child_pk)
    for row in rows:
        setattr(row, ID_LISTS_ATTR, lists[row.pk])


def serialize_rows(layer: Layer, rows: Iterable[models.Model]) -> list[Record]:
    serializer = _flat_serializer(layer)
    records: list[Record] = []
    for row in rows:
        record = dict(serializer.to_representation(row))
        record[TYPENAME] = layer.type_name
        records.append(record)
    return records


@functools.cache
def _readable_fields(layer: Layer) -> tuple[serializers.Field[Any, Any, Any, Any], ...]:
    """The flat serializer's readable fields, in its order (listed once: the serializer's own property
    walks every field at each call)."""
    return tuple(_flat_serializer(layer)._readable_fields)


@functools.cache
def _flat_serializer(layer: Layer) -> serializers.ModelSerializer[Any]:
    """One flat serializer per layer with its fields built once (building them costs about 1 ms).

    Rendering only reads the bound fields, so the write path's thread and the heating threads share it.
    """
    serializer = layer.flat_serializer_class()
    _ = serializer.fields  # bind the fields here, not in two threads at once
    return serializer


def fetch_records(
    layer: Layer, pks: Iterable[str], nested: bool = False
) -> dict[str, tuple[models.Model, Record]]:
    """Read and render the rows with these primary keys; rows that are gone are absent.

    Without a join the rows are read through ``row_reads`` and their relations prefetched onto them,
    as the layer's queryset would."""
    wanted = list(dict.fromkeys(pks))
    if not wanted:
        return {}
    prefetch, select = _relations(layer, nested)
    if select:
        return render_rows(layer, list(in_values(_queryset(layer, nested), "pk", wanted)))
    rows = rows_by_pk(layer.model, wanted)
    if prefetch:
        models.prefetch_related_objects(rows, *prefetch)
    return render_rows(layer, rows)


def render_rows(layer: Layer, rows: list[models.Model]) -> dict[str, tuple[models.Model, Record]]:
    """Render rows read by the layer's queryset (or prefetched with it): their id lists, then records."""
    attach_id_lists(layer, rows)
    return {str(row.pk): (row, record) for row, record in zip(rows, serialize_rows(layer, rows), strict=True)}


def prefetched_children(
    layer: Layer, rows: Iterable[models.Model]
) -> Iterator[tuple[RecordKey, models.Model]]:
    """The child rows a ``nested`` read prefetched with these rows, keyed as their records."""
    for edge in prefetched_edges(layer):
        if edge.kind is EdgeKind.OPAQUE:
            continue
        for row in rows:
            for child in getattr(row, edge.source).all():
                yield (edge.child.type_name, str(child.pk)), child


def reverse_parent_keys(layer: Layer, row: models.Model) -> Iterator[RecordKey]:
    """The parent records a child row points at through its foreign keys (REVERSE edges)."""
    for edge in layer.parents:
        if edge.kind is EdgeKind.REVERSE and edge.child_fk_attname is not None:
            value = getattr(row, edge.child_fk_attname, None)
            if value is not None:
                yield (edge.parent.type_name, str(value))


@contextmanager
def consistent_reads(model: type[models.Model]) -> Iterator[None]:
    """Run the reads of one propagation or one heating against a single snapshot of the database.

    Without it a record could be rendered before a concurrent commit and its children after, leaving a
    reference to a row the anchor never receives. PostgreSQL needs REPEATABLE READ for that; SQLite and
    MySQL give a snapshot per transaction by default.
    """
    alias = router.db_for_read(model) or DEFAULT_DB_ALIAS
    connection = connections[alias]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        connection.ensure_connection()
        raw = connection.connection
        if hasattr(raw, "read_only"):  # psycopg 3: BEGIN travels with the first statement
            with snapshot(connection, alias):
                yield
            return
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield
