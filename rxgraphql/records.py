"""Flat records: reading rows of a layer from the database and rendering them with the flat serializer.

A record is a plain dict: the flat serializer's output plus ``__typename`` (the layer's GraphQL type).
Records are keyed by ``(type name, str(primary key))``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, router, transaction
from rest_framework import serializers

from .layers import EdgeKind, Layer

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


def _queryset(layer: Layer) -> models.QuerySet[Any]:
    """The layer's rows with the relations its flat serializer reads fetched in bulk."""
    qs = layer.model._default_manager.all()
    prefetch = [
        edge.source
        for edge in layer.children
        if edge.many and edge.kind in (EdgeKind.REVERSE, EdgeKind.MANY_TO_MANY)
    ]
    select = [edge.source for edge in layer.children if not edge.many and edge.kind is EdgeKind.REVERSE]
    if prefetch:
        qs = qs.prefetch_related(*prefetch)
    if select:
        qs = qs.select_related(*select)
    return qs


def serialize_rows(layer: Layer, rows: Iterable[models.Model]) -> list[Record]:
    serializer = _flat_serializer(layer)
    records: list[Record] = []
    for row in rows:
        record = dict(serializer.to_representation(row))
        record[TYPENAME] = layer.type_name
        records.append(record)
    return records


@functools.cache
def _flat_serializer(layer: Layer) -> serializers.ModelSerializer[Any]:
    """One flat serializer per layer with its fields built once (building them costs about 1 ms).

    Rendering only reads the bound fields, so the write path's thread and the heating threads share it.
    """
    serializer = layer.flat_serializer_class()
    _ = serializer.fields  # bind the fields here, not in two threads at once
    return serializer


def fetch_records(layer: Layer, pks: Iterable[str]) -> dict[str, tuple[models.Model, Record]]:
    """Read and render the rows with these primary keys; rows that are gone are absent."""
    wanted = list(dict.fromkeys(pks))
    if not wanted:
        return {}
    rows = list(_queryset(layer).filter(pk__in=wanted))
    return {str(row.pk): (row, record) for row, record in zip(rows, serialize_rows(layer, rows), strict=True)}


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
    with transaction.atomic(using=alias):
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield
