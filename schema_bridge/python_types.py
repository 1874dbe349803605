"""Python annotations of actions as GraphQL types, with the value conversions both ways.

Scalars stay as they are; ``Decimal`` travels as a string; ``Enum`` classes become GraphQL enums;
dataclasses and TypedDicts returned by an action become object types; ``dict`` and ``Any`` become JSON.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Mapped:
    annotation: Any
    to_python: Convert = _same
    to_graphql: Convert = _same


_SCALARS = (int, float, str, bool, datetime.datetime, datetime.date, datetime.time)


def _optional(inner: Mapped) -> Mapped:
    return Mapped(
        typing.Optional[inner.annotation],  # noqa: UP045
        lambda v: None if v is None else inner.to_python(v),
        lambda v: None if v is None else inner.to_graphql(v),
    )


def _list(inner: Mapped) -> Mapped:
    return Mapped(
        list[inner.annotation],  # type: ignore[name-defined]
        lambda v: [inner.to_python(i) for i in v],
        lambda v: [inner.to_graphql(i) for i in v],
    )


@functools.cache
def _enum(cls: type[enum.Enum]) -> Any:
    return strawberry.enum(cls)


@functools.cache
def _object(cls: type, name: str | None = None) -> tuple[type, dict[str, Mapped]]:
    hints = typing.get_type_hints(cls)
    fields = {field: mapped(annotation) for field, annotation in hints.items()}
    namespace = {"__annotations__": {field: m.annotation for field, m in fields.items()}}
    type_name = name or cls.__name__
    built = strawberry.type(type(type_name, (), namespace), name=type_name, description=cls.__doc__)
    return built, fields


def _is_typed_dict(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, dict) and hasattr(annotation, "__total__")


def mapped(annotation: Any, name: str | None = None) -> Mapped:
    """How values of ``annotation`` cross GraphQL; ``name`` names the object type of a dataclass."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is None or annotation is type(None):
        return Mapped(bool, to_graphql=lambda _v: True)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return _optional(mapped(rest[0]) if len(rest) == 1 else Mapped(JSON))
    if origin in (list, tuple, set, frozenset) or annotation in (list, tuple):
        return _list(mapped(args[0] if args else Any))
    if annotation is Decimal:
        return Mapped(str, to_python=Decimal, to_graphql=str)
    if annotation in _SCALARS:
        return Mapped(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Mapped(_enum(annotation))
    if hasattr(annotation, "__strawberry_definition__"):
        return Mapped(annotation)
    if dataclasses.is_dataclass(annotation) or _is_typed_dict(annotation):
        built, fields = _object(annotation, name)

        def to_graphql(value: Any) -> Any:
            source = value if isinstance(value, dict) else dataclasses.asdict(value)
            return {name: m.to_graphql(source.get(name)) for name, m in fields.items()}

        return Mapped(built, to_graphql=to_graphql)
    return Mapped(JSON)
