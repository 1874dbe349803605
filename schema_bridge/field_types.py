"""Which GraphQL type a DRF field renders to (as the Python annotation strawberry understands)."""

from __future__ import annotations

import datetime
import typing
from typing import Any

import strawberry
from rest_framework import serializers
from strawberry.scalars import JSON

_SIMPLE: tuple[tuple[type[serializers.Field[Any, Any, Any, Any]], Any], ...] = (
    (serializers.BooleanField, bool),
    (serializers.IntegerField, int),
    (serializers.FloatField, float),
    (serializers.DecimalField, str),  # a decimal travels as a string, never a float
    (serializers.DateTimeField, datetime.datetime),
    (serializers.DateField, datetime.date),
    (serializers.TimeField, datetime.time),
    (serializers.DurationField, str),
    (serializers.UUIDField, str),
    (serializers.ChoiceField, str),
    (serializers.CharField, str),
    (serializers.FileField, str),
)

_ANNOTATION_TYPES = {int: int, float: float, str: str, bool: bool}


def _method_type(field: serializers.SerializerMethodField) -> Any:
    """A method field's type from its method's return annotation, JSON when it has none."""
    parent = field.parent
    method = getattr(parent, field.method_name or f"get_{field.field_name}", None)
    if method is None:
        return JSON
    try:
        hints = typing.get_type_hints(method)
    except Exception:
        return JSON
    returned: Any = hints.get("return")
    args = typing.get_args(returned)
    if type(None) in args:
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1 and inner[0] in _ANNOTATION_TYPES:
            return typing.Optional[_ANNOTATION_TYPES[inner[0]]]  # noqa: UP045
        return JSON
    return _ANNOTATION_TYPES.get(returned, JSON) if isinstance(returned, type) else JSON


def scalar_annotation(name: str, field: serializers.Field[Any, Any, Any, Any], pk_name: str) -> Any:
    """The annotation of a flat field (nested children are IDs here)."""
    if name == pk_name:
        return strawberry.ID
    if isinstance(field, serializers.ManyRelatedField):
        return list[strawberry.ID]
    if isinstance(field, serializers.RelatedField):
        return _nullable(strawberry.ID, field)
    if isinstance(field, serializers.SerializerMethodField):
        return _method_type(field)
    for drf_type, annotation in _SIMPLE:
        if isinstance(field, drf_type):
            return _nullable(annotation, field)
    return JSON


def _nullable(annotation: Any, field: serializers.Field[Any, Any, Any, Any]) -> Any:
    if field.allow_null:
        return typing.Optional[annotation]  # noqa: UP045
    return annotation
