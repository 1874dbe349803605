"""The layer model: a nested DRF ``ModelSerializer`` taken apart into one flat layer per serializer class.

A layer renders one model instance as a flat record: every field as the user's serializer renders it,
every nested child replaced by its primary key (or the ordered list of keys). The edges between layers
say how a child row is linked to its parent row, which is what the write path needs to know which
records a database change can alter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.fields.related_descriptors import (
    ForwardManyToOneDescriptor,
    ManyToManyDescriptor,
    ReverseManyToOneDescriptor,
    ReverseOneToOneDescriptor,
)
from rest_framework import serializers

from .method_reads import check_declared_reads


class EdgeKind(enum.Enum):
    """How the rows of a child layer are linked to the rows of their parent layer."""

    FORWARD = "forward"  # the parent row holds a foreign key to the child (FK, one-to-one)
    REVERSE = "reverse"  # the child row holds a foreign key to the parent (reverse FK, reverse one-to-one)
    MANY_TO_MANY = "m2m"  # a through table links them
    OPAQUE = "opaque"  # a property, a method or a dotted source: only a parent save can tell


@dataclass(eq=False)
class Edge:
    """A nested serializer field: ``parent.field_name`` renders rows of ``child``."""

    parent: Layer
    field_name: str
    child: Layer
    many: bool
    allow_null: bool
    kind: EdgeKind
    source: str
    # For REVERSE edges: the attribute on the child row that holds the parent's primary key.
    child_fk_attname: str | None = None
    # The ORM lookup from the parent model to the child model (None for OPAQUE edges).
    query_name: str | None = None
    # For REVERSE and MANY_TO_MANY edges: the ORM lookup from the child model back to the parent model.
    parent_lookup: str | None = None


@dataclass(eq=False)
class Layer:
    """One serializer class of a channel's state, with its flat serializer and its edges."""

    serializer_class: type[serializers.ModelSerializer[Any]]
    model: type[models.Model]
    flat_serializer_class: type[serializers.ModelSerializer[Any]]
    children: list[Edge] = field(default_factory=list)
    parents: list[Edge] = field(default_factory=list)
    type_name: str = ""  # the GraphQL type name, assigned once every channel is known
    # The serializer field whose value is the primary key of the only user who may see a record.
    user_key: str | None = None

    @property
    def key(self) -> str:
        """A name for the layer that is stable and unique within the project."""
        cls = self.serializer_class
        return f"{cls.__module__}.{cls.__qualname__}"

    @property
    def pk_field(self) -> str:
        pk = self.model._meta.pk
        assert pk is not None
        return pk.name

    def flat_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        """The fields of the flat serializer, as DRF builds them."""
        return dict(self.flat_serializer_class().fields)

    def __repr__(self) -> str:
        return f"<Layer {self.key}>"


def _nested_child(
    declared: serializers.Field[Any, Any, Any, Any],
) -> tuple[serializers.ModelSerializer[Any], bool] | None:
    """The nested model serializer behind a declared field and whether it renders a list."""
    if isinstance(declared, serializers.ListSerializer):
        child = declared.child
        if isinstance(child, serializers.ModelSerializer):
            return child, True
        return None
    if isinstance(declared, serializers.ModelSerializer):
        return declared, False
    return None


_EdgeFacts = tuple[EdgeKind, str | None, str | None, str | None]


def _edge_kind(parent_model: type[models.Model], source: str) -> _EdgeFacts:
    """(kind, the child's FK attname for REVERSE edges, the ORM lookup from the parent, the one back)."""
    if "." in source or source == "*":
        return EdgeKind.OPAQUE, None, None, None
    descriptor = getattr(parent_model, source, None)
    if isinstance(descriptor, ManyToManyDescriptor):
        m2m = descriptor.field
        if descriptor.reverse:
            return EdgeKind.MANY_TO_MANY, None, m2m.related_query_name(), m2m.name
        return EdgeKind.MANY_TO_MANY, None, m2m.name, m2m.related_query_name()
    if isinstance(descriptor, ReverseManyToOneDescriptor):
        fk = descriptor.field
        return EdgeKind.REVERSE, fk.attname, fk.related_query_name(), fk.name
    if isinstance(descriptor, ReverseOneToOneDescriptor):
        one = descriptor.related.field
        return EdgeKind.REVERSE, one.attname, one.related_query_name(), one.name
    if isinstance(descriptor, ForwardManyToOneDescriptor):
        return EdgeKind.FORWARD, None, descriptor.field.name, None
    return EdgeKind.OPAQUE, None, None, None


class LayerGraph:
    """Every layer reachable from one root serializer; the same class reached twice is one layer."""

    def __init__(self, root_serializer: serializers.ModelSerializer[Any]) -> None:
        self.layers: dict[type[serializers.Serializer[Any]], Layer] = {}
        self.root = self._layer_for(type(root_serializer), path=())

    def _layer_for(
        self,
        serializer_class: type[serializers.ModelSerializer[Any]],
        path: tuple[type[Any], ...],
    ) -> Layer:
        if serializer_class in path:
            chain = " -> ".join(c.__name__ for c in (*path, serializer_class))
            raise ImproperlyConfigured(f"Nested serializers form a cycle: {chain}")
        existing = self.layers.get(serializer_class)
        if existing is not None:
            return existing
        meta = getattr(serializer_class, "Meta", None)
        model = getattr(meta, "model", None)
        if model is None:
            raise ImproperlyConfigured(f"{serializer_class.__name__} has no Meta.model")
        if getattr(meta, "depth", 0):
            raise ImproperlyConfigured(
                f"{serializer_class.__name__} uses Meta.depth; declare nested serializers instead"
            )
        nested: dict[str, tuple[serializers.ModelSerializer[Any], bool, str, bool]] = {}
        for name, declared in serializer_class._declared_fields.items():
            found = _nested_child(declared)
            if found is None:
                continue
            child, many = found
            source = declared.source or name
            nested[name] = (child, many, source, bool(declared.allow_null))
        layer = Layer(
            serializer_class=serializer_class,
            model=model._meta.concrete_model,
            flat_serializer_class=_flat_serializer(serializer_class, nested),
        )
        self.layers[serializer_class] = layer
        user_key = getattr(meta, "user_key", None)
        if user_key is not None:
            if user_key not in layer.flat_serializer_class().fields:
                raise ImproperlyConfigured(
                    f"{serializer_class.__name__}.Meta.user_key '{user_key}' must be one of its fields"
                )
            layer.user_key = user_key
        flat_fields = layer.flat_serializer_class().fields
        for flat_field in flat_fields.values():
            if isinstance(flat_field, serializers.SerializerMethodField):
                check_declared_reads(serializer_class, layer.model, str(flat_field.method_name))
        pk_name = layer.pk_field
        if pk_name not in flat_fields:
            raise ImproperlyConfigured(
                f"{serializer_class.__name__} must include the primary key '{pk_name}' in its fields"
            )
        for name, (child, many, source, allow_null) in nested.items():
            child_layer = self._layer_for(type(child), (*path, serializer_class))
            kind, fk_attname, query_name, parent_lookup = _edge_kind(model, source)
            edge = Edge(
                parent=layer,
                field_name=name,
                child=child_layer,
                many=many,
                allow_null=allow_null,
                kind=kind,
                source=source,
                child_fk_attname=fk_attname,
                query_name=query_name,
                parent_lookup=parent_lookup,
            )
            layer.children.append(edge)
            child_layer.parents.append(edge)
        return layer

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers.values())

    def lookups(self, target: Layer) -> list[str]:
        """ORM lookups from the root model to ``target``'s primary key ("pk" for the root itself)."""
        found: list[str] = []

        def walk(layer: Layer, path: tuple[str, ...]) -> None:
            if layer is target:
                found.append("__".join((*path, "pk")))
            for edge in layer.children:
                if edge.query_name is not None:
                    walk(edge.child, (*path, edge.query_name))

        walk(self.root, ())
        return sorted(set(found))


ID_LISTS_ATTR = "_rxgraphql_id_lists"


class IdLists(list[Any]):
    """Primary keys of a row's children, read as ids only (no child row instantiated)."""


class IdListField(serializers.ManyRelatedField):
    """The primary keys of a nested list: the id list the write path attached to the row when it read
    one (see records.py), else the relation's rows as ``PrimaryKeyRelatedField(many=True)`` reads them."""

    def get_attribute(self, instance: Any) -> Any:
        attached = getattr(instance, ID_LISTS_ATTR, None)
        if attached is not None and self.field_name in attached:
            return attached[self.field_name]
        return super().get_attribute(instance)

    def to_representation(self, iterable: Any) -> list[Any]:
        if isinstance(iterable, IdLists):
            return list(iterable)
        return list(super().to_representation(iterable))


def _flat_serializer(
    serializer_class: type[serializers.ModelSerializer[Any]],
    nested: dict[str, tuple[serializers.ModelSerializer[Any], bool, str, bool]],
) -> type[serializers.ModelSerializer[Any]]:
    """A subclass of the user's serializer whose nested fields render primary keys.

    Subclassing keeps everything else the user wrote: method fields, ``to_representation``, Meta.
    """
    overrides: dict[str, Any] = {}
    for name, (_child, many, source, allow_null) in nested.items():
        kwargs: dict[str, Any] = {"read_only": True}
        if source != name:
            kwargs["source"] = source
        if many:
            child: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
                read_only=True
            )
            overrides[name] = IdListField(child_relation=child, **kwargs)
        else:
            overrides[name] = serializers.PrimaryKeyRelatedField(allow_null=allow_null, **kwargs)
    overrides["__module__"] = serializer_class.__module__
    overrides["__qualname__"] = f"{serializer_class.__qualname__}.Flat"
    return type(serializer_class.__name__, (serializer_class,), overrides)
