"""Declared writes (``Meta.writable``): save, create and delete records of a channel's state.

Every write runs in a thread inside one transaction: the target must be inside the subscribed anchor
(checked against the database, never against a cache), the layer's serializer validates the data
(database-backed validators work), a nested child set by id must already be part of what the channel
shows unless ``can_reference`` accepts it, the channel's ``can_save`` / ``can_create`` / ``can_delete``
decide (they deny by default), and a write whose foreign keys would move the record out of the anchor is
rolled back. Signals then publish the committed state as for any other save.

A refusal is a :class:`~rxgraphql.errors.WriteRefused` with the shared :class:`~rxgraphql.errors.ErrorCode`;
the result a client reads carries its HTTP status (``ErrorCode.status``: 400, 403, 404).

Nested children are written by id only when their serializer field is writable: one declared
``read_only=True`` is never written. The record a write answers is filtered for the writer like the
stream (``Meta.user_key``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import models, transaction
from django.db.models import Q
from rest_framework import serializers

from .errors import ErrorCode, WriteRefused, status_of
from .layers import Edge, EdgeKind, Layer, LayerGraph
from .ownership import owner_of
from .records import TYPENAME

if TYPE_CHECKING:
    from .channel import ContextChannel


class Operation(enum.Enum):
    SAVE = "save"
    CREATE = "create"
    DELETE = "delete"


SAVE, CREATE, DELETE = Operation.SAVE, Operation.CREATE, Operation.DELETE


@dataclass(frozen=True)
class WritableLayer:
    layer: Layer
    operations: frozenset[Operation]
    serializer_class: type[serializers.ModelSerializer[Any]]
    lookups: tuple[str, ...]
    # The nested children written by id, with the ORM lookups from the root model to their rows.
    references: tuple[tuple[Edge, tuple[str, ...]], ...] = ()


def writable_edges(layer: Layer) -> list[Edge]:
    """Nested single and many-to-many children whose serializer field is not ``read_only``."""
    declared = getattr(layer.serializer_class, "_declared_fields", {})
    found = []
    for edge in layer.children:
        if edge.kind not in (EdgeKind.FORWARD, EdgeKind.MANY_TO_MANY):
            continue
        field = declared.get(edge.field_name)
        if field is not None and getattr(field, "read_only", False):
            continue
        found.append(edge)
    return found


@dataclass
class WriteOutcome:
    """What a write answers: an HTTP-like ``code``, a message, field errors, the record.

    ``code`` is 200, or the refusal's ``ErrorCode.status`` (400 invalid data, 403 refused, 404 not found).
    """

    code: int
    message: str = ""
    errors: dict[str, Any] | None = None
    record: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.code == 200

    @classmethod
    def refused(cls, refusal: WriteRefused) -> WriteOutcome:
        """The outcome of a refusal: its code's HTTP status, message and field errors."""
        return cls(status_of(refusal.code), refusal.message, errors=refusal.errors)


def _parent_keys(layer: Layer) -> dict[str, type[models.Model]]:
    """Foreign keys of the layer's rows that place them under a parent (reverse edges), by field name."""
    found: dict[str, type[models.Model]] = {}
    for edge in layer.parents:
        if edge.kind is EdgeKind.REVERSE and edge.child_fk_attname is not None:
            for field in layer.model._meta.concrete_fields:
                if field.attname == edge.child_fk_attname:
                    found[field.name] = edge.parent.model
    return found


def _write_serializer(layer: Layer) -> type[serializers.ModelSerializer[Any]]:
    """The layer's flat serializer with children writable by id, and the parent keys a create needs."""
    overrides: dict[str, Any] = {}
    for edge in writable_edges(layer):
        queryset = edge.child.model._default_manager.all()
        kwargs: dict[str, Any] = {"queryset": queryset, "required": False}
        if edge.source != edge.field_name:
            kwargs["source"] = edge.source
        if edge.many:
            overrides[edge.field_name] = serializers.PrimaryKeyRelatedField(many=True, **kwargs)
        else:
            overrides[edge.field_name] = serializers.PrimaryKeyRelatedField(
                allow_null=edge.allow_null, **kwargs
            )
    meta = layer.flat_serializer_class.Meta
    fields = getattr(meta, "fields", None)
    if isinstance(fields, list | tuple):
        extra = [name for name in _parent_keys(layer) if name not in fields]
        for name in extra:
            model = _parent_keys(layer)[name]
            overrides[name] = serializers.PrimaryKeyRelatedField(queryset=model._default_manager.all())
        if extra:
            overrides["Meta"] = type("Meta", (meta,), {"fields": [*fields, *extra]})
    overrides["__module__"] = layer.serializer_class.__module__
    overrides["__qualname__"] = f"{layer.serializer_class.__qualname__}.Write"
    return type(layer.serializer_class.__name__, (layer.flat_serializer_class,), overrides)


def writable_layers(channel_name: str, graph: LayerGraph, declared: Any) -> dict[str, WritableLayer]:
    """Check ``Meta.writable`` and describe each writable layer, by GraphQL type name (after naming)."""
    if not declared:
        return {}
    if not isinstance(declared, dict):
        raise ImproperlyConfigured(
            f"{channel_name}: Meta.writable must be a dict {{Serializer: [SAVE, ...]}}"
        )
    found: dict[str, WritableLayer] = {}
    for serializer_class, operations in declared.items():
        layer = graph.layers.get(serializer_class)
        if layer is None:
            raise ImproperlyConfigured(f"{channel_name}: {serializer_class!r} is not part of Meta.state")
        ops = frozenset(operations)
        if not ops or not all(isinstance(op, Operation) for op in ops):
            raise ImproperlyConfigured(f"{channel_name}: writable operations must be SAVE, CREATE or DELETE")
        lookups = tuple(graph.lookups(layer))
        if not lookups:
            raise ImproperlyConfigured(
                f"{channel_name}: {serializer_class.__name__} is only reachable through a property or a "
                "dotted source; writes need a relation the database can check"
            )
        references = tuple((edge, tuple(graph.lookups(edge.child))) for edge in writable_edges(layer))
        found[layer.key] = WritableLayer(layer, ops, _write_serializer(layer), lookups, references)
    return found


def _inside(channel: ContextChannel, lookups: Sequence[str], anchors: Sequence[str], pk: Any) -> bool:
    """Whether the row the lookups reach is inside one of the anchors (a list channel has several)."""
    if not lookups:
        return False
    root: type[models.Model] = type(channel)._meta.layers.root.model
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{lookup: pk})
    return root._default_manager.filter(pk__in=anchors).filter(condition).exists()


def _in_anchor(channel: ContextChannel, writable: WritableLayer, anchors: Sequence[str], pk: Any) -> bool:
    return _inside(channel, writable.lookups, anchors, pk)


def _check_references(
    channel: ContextChannel, writable: WritableLayer, anchors: Sequence[str], data: dict[str, Any]
) -> None:
    """Every child set by id is already shown by the channel, or ``can_reference`` accepts it."""
    for edge, lookups in writable.references:
        if edge.source not in data:
            continue
        value = data[edge.source]
        targets = list(value) if edge.many else [value]
        for target in targets:
            if target is None or _inside(channel, lookups, anchors, target.pk):
                continue
            if channel.can_reference(edge.field_name, target) is not True:
                raise WriteRefused(
                    f"'{edge.field_name}' may only point to what this channel shows", ErrorCode.FORBIDDEN
                )


def _render(writable: WritableLayer, instance: models.Model, user: Any) -> dict[str, Any] | None:
    """The saved record as the writer's stream shows it (None when it is another user's)."""
    layer = writable.layer
    record: dict[str, Any] = dict(layer.flat_serializer_class(instance).data)
    record[TYPENAME] = layer.type_name
    user_id = None if getattr(user, "pk", None) is None else str(user.pk)
    if layer.user_key is not None and owner_of(record, layer) != user_id:
        return None
    for edge in layer.children:
        if edge.child.user_key is None or edge.field_name not in record:
            continue
        value = record[edge.field_name]
        ids = [pk for pk in (value if edge.many else [value]) or [] if pk is not None]
        rows = edge.child.model._default_manager.filter(pk__in=ids)
        own = {
            str(row.pk)
            for row in rows
            if owner_of(dict(edge.child.flat_serializer_class(row).data), edge.child) == user_id
        }
        if edge.many:
            record[edge.field_name] = [pk for pk in value or [] if str(pk) in own]
        elif value is not None and str(value) not in own:
            record[edge.field_name] = None
    return record


def _validated(writable: WritableLayer, instance: models.Model | None, data: dict[str, Any]) -> Any:
    serializer = writable.serializer_class(instance, data=data, partial=instance is not None)
    if not serializer.is_valid():
        raise WriteRefused("Invalid data", ErrorCode.BAD_REQUEST, errors=serializer.errors)
    return serializer


def _locked(
    writable: WritableLayer, channel: ContextChannel, anchors: Sequence[str], pk: Any
) -> models.Model:
    model = writable.layer.model
    try:
        instance = model._default_manager.select_for_update().filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):
        instance = None
    if instance is None or not _in_anchor(channel, writable, anchors, instance.pk):
        raise WriteRefused("No such record in this channel", ErrorCode.NOT_FOUND)
    return instance


def perform_write(
    channel: ContextChannel,
    writable: WritableLayer,
    operation: Operation,
    anchors: Sequence[str],
    pk: Any,
    data: dict[str, Any],
) -> WriteOutcome:
    """Run one write; every refusal leaves the database as it was."""
    if operation not in writable.operations:
        return WriteOutcome.refused(
            WriteRefused(f"{operation.value} is not declared writable", ErrorCode.FORBIDDEN)
        )
    try:
        with transaction.atomic():
            return _perform(channel, writable, operation, anchors, pk, data)
    except WriteRefused as refusal:
        return WriteOutcome.refused(refusal)


def _perform(
    channel: ContextChannel,
    writable: WritableLayer,
    operation: Operation,
    anchors: Sequence[str],
    pk: Any,
    data: dict[str, Any],
) -> WriteOutcome:
    if operation is Operation.DELETE:
        doomed = _locked(writable, channel, anchors, pk)
        if channel.can_delete(doomed) is not True:
            raise WriteRefused("Not allowed to delete this record", ErrorCode.FORBIDDEN)
        doomed.delete()
        return WriteOutcome(200)
    instance = _locked(writable, channel, anchors, pk) if operation is Operation.SAVE else None
    serializer = _validated(writable, instance, data)
    _check_references(channel, writable, anchors, dict(serializer.validated_data))
    if instance is not None:
        allowed = channel.can_save(instance, dict(serializer.validated_data))
    else:
        allowed = channel.can_create(writable.layer.model, dict(serializer.validated_data))
    if allowed is not True:
        raise WriteRefused(f"Not allowed to {operation.value} this record", ErrorCode.FORBIDDEN)
    saved = serializer.save()
    if not _in_anchor(channel, writable, anchors, saved.pk):
        raise WriteRefused("This write would take the record out of the channel", ErrorCode.FORBIDDEN)
    return WriteOutcome(200, record=_render(writable, saved, channel.user))
