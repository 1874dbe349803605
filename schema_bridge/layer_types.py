"""Strawberry types for layers: the flat record type of each layer and its nested counterpart.

Flat types are what the subscription streams: each nested child is its id or list of ids. Nested types
(``<Type>Nested``) are the serializer's nested output, returned once by the query field of a channel.
Both resolve straight from the dicts DRF renders.

A deleted record is named by the interface ``RecordRef { type id }`` with one concrete type per layer,
``<Type>Ref``: clients that normalize by ``__typename`` and ``id`` (Apollo Client's ``InMemoryCache``,
urql's graphcache) then keep ``CardRef:1`` and ``ReminderRef:1`` apart, while the selection
``deleted { type id }`` stays what it always was.
"""

from __future__ import annotations

import typing
from typing import Any

import strawberry

from rxgraphql.layers import Layer
from rxgraphql.records import TYPENAME

from .field_types import scalar_annotation


def _is_type_of(type_name: str) -> Any:
    def is_type_of(cls: type, obj: Any, info: Any) -> bool:
        return isinstance(obj, dict) and obj.get(TYPENAME) == type_name

    return classmethod(is_type_of)


@strawberry.interface(description="A record deleted from the state: its type name and id.")
class RecordRef:
    type: str
    id: strawberry.ID


def _is_ref_of(type_name: str) -> Any:
    def is_type_of(cls: type, obj: Any, info: Any) -> bool:
        return isinstance(obj, dict) and obj.get("type") == type_name

    return classmethod(is_type_of)


class LayerTypes:
    """Builds each layer's types once, shared by every channel that shows the layer."""

    def __init__(self) -> None:
        self.flat: dict[str, type] = {}
        self.nested: dict[str, type] = {}
        self.refs: dict[str, type] = {}

    def ref_type(self, layer: Layer) -> type:
        """``<Type>Ref``: the concrete ``RecordRef`` of a deleted record of this layer."""
        found = self.refs.get(layer.type_name)
        if found is not None:
            return found
        name = f"{layer.type_name}Ref"
        cls = type(name, (RecordRef,), {"__annotations__": {}})
        cls.is_type_of = _is_ref_of(layer.type_name)  # type: ignore[attr-defined]
        doc = f"A deleted {layer.model._meta.verbose_name} record: `type` is {layer.type_name!r}."
        built = strawberry.type(cls, name=name, description=doc)
        self.refs[layer.type_name] = built
        return built

    def clashes(self) -> list[str]:
        """Names given to two types (a layer named like another layer's ``<Type>Ref`` or ``<Type>Nested``)."""
        seen: dict[str, int] = {}
        for name in [*self.flat, *self.nested, *(f"{t}Ref" for t in self.refs)]:
            seen[name] = seen.get(name, 0) + 1
        return sorted(name for name, count in seen.items() if count > 1)

    def flat_type(self, layer: Layer) -> type:
        found = self.flat.get(layer.type_name)
        if found is not None:
            return found
        annotations: dict[str, Any] = {}
        for name, field in layer.flat_fields().items():
            if getattr(field, "write_only", False):
                continue
            annotations[name] = scalar_annotation(name, field, layer.pk_field)
        cls = type(layer.type_name, (), {"__annotations__": annotations})
        cls.is_type_of = _is_type_of(layer.type_name)  # type: ignore[attr-defined]
        doc = f"A flat {layer.model._meta.verbose_name} record ({layer.serializer_class.__name__})."
        built = strawberry.type(cls, name=layer.type_name, description=doc)
        self.flat[layer.type_name] = built
        return built

    def nested_type(self, layer: Layer) -> type:
        name = f"{layer.type_name}Nested"
        found = self.nested.get(name)
        if found is not None:
            return found
        edges = {edge.field_name: edge for edge in layer.children}
        annotations: dict[str, Any] = {}
        for field_name, field in layer.flat_fields().items():
            if getattr(field, "write_only", False):
                continue
            edge = edges.get(field_name)
            if edge is None:
                annotations[field_name] = scalar_annotation(field_name, field, layer.pk_field)
            elif edge.many:
                annotations[field_name] = list[self.nested_type(edge.child)]  # type: ignore[misc]
            elif edge.allow_null:
                annotations[field_name] = typing.Optional[self.nested_type(edge.child)]  # noqa: UP045
            else:
                annotations[field_name] = self.nested_type(edge.child)
        cls = type(name, (), {"__annotations__": annotations})
        doc = f"The nested {layer.model._meta.verbose_name} as {layer.serializer_class.__name__} renders it."
        built = strawberry.type(cls, name=name, description=doc)
        self.nested[name] = built
        return built
