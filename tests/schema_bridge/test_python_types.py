"""Action annotations as GraphQL types, and the conversions of their values both ways."""

from __future__ import annotations

import datetime
import enum
import typing
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

import strawberry
from strawberry.scalars import JSON

from schema_bridge.python_types import mapped


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Point:
    """A point."""

    x: int
    price: Decimal


class Totals(TypedDict):
    count: int
    when: datetime.date | None


def test_scalars_stay_as_they_are() -> None:
    for kind in (int, float, str, bool, datetime.datetime, datetime.date, datetime.time):
        m = mapped(kind)
        assert m.annotation is kind
        assert (m.to_python(1), m.to_graphql(1)) == (1, 1)


def test_a_decimal_travels_as_text() -> None:
    m = mapped(Decimal)
    assert m.annotation is str
    assert m.to_python("3.50") == Decimal("3.50")
    assert m.to_graphql(Decimal("3.50")) == "3.50"


def test_none_answers_true() -> None:
    m = mapped(None)
    assert m.annotation is bool
    assert m.to_graphql(None) is True


def test_optional_keeps_none_and_converts_the_rest() -> None:
    m = mapped(Decimal | None)
    assert m.annotation == typing.Optional[str]  # noqa: UP045
    assert (m.to_python(None), m.to_python("1.5")) == (None, Decimal("1.5"))
    assert (m.to_graphql(None), m.to_graphql(Decimal("1.5"))) == (None, "1.5")


def test_a_union_beyond_optional_is_json() -> None:
    assert mapped(int | str | None).annotation == typing.Optional[JSON]  # noqa: UP045
    assert mapped(dict[str, Any]).annotation is JSON
    assert mapped(Any).annotation is JSON


def test_lists_convert_each_item() -> None:
    m = mapped(list[Decimal])
    assert m.to_python(["1", "2.5"]) == [Decimal("1"), Decimal("2.5")]
    assert m.to_graphql((Decimal("1"), Decimal("2.5"))) == ["1", "2.5"]
    assert mapped(tuple[int, ...]).annotation == list[int]


def test_an_enum_becomes_a_graphql_enum_once() -> None:
    m = mapped(Colour)
    assert m.annotation is mapped(Colour).annotation
    definition = m.annotation.__strawberry_definition__
    assert [v.name for v in definition.values] == ["RED", "BLUE"]


def test_a_dataclass_becomes_an_object_type_with_converted_fields() -> None:
    m = mapped(Point, "PointResult")
    definition = m.annotation.__strawberry_definition__
    assert definition.name == "PointResult"
    assert definition.description == "A point."
    assert [f.python_name for f in definition.fields] == ["x", "price"]
    assert m.to_graphql(Point(2, Decimal("9.99"))) == {"x": 2, "price": "9.99"}
    assert m.to_graphql({"x": 3, "price": Decimal("1")}) == {"x": 3, "price": "1"}


def test_a_typed_dict_becomes_an_object_type() -> None:
    m = mapped(Totals)
    assert m.annotation.__strawberry_definition__.name == "Totals"
    assert m.to_graphql({"count": 2}) == {"count": 2, "when": None}


def test_a_strawberry_type_is_used_as_it_is() -> None:
    @strawberry.type
    class Existing:
        value: int

    assert mapped(Existing).annotation is Existing
