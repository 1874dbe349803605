"""Date and time scalars that carry ISO-8601 strings, whether a resolver returns a string or an object.

DRF renders datetimes as strings already; the project's own resolvers may return ``datetime`` objects.
Both serialize to the same ISO-8601 text.
"""

from __future__ import annotations

import datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition


def _iso(value: Any) -> str:
    if isinstance(value, str):
        return value
    return str(value.isoformat())


def _parser(kind: type[Any]) -> Any:
    def parse(value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(f"expected an ISO-8601 string, got {value!r}")
        return kind.fromisoformat(value)

    return parse


SCALAR_MAP: dict[object, ScalarDefinition] = {
    datetime.datetime: strawberry.scalar(
        name="DateTime",
        description="An ISO-8601 date and time",
        serialize=_iso,
        parse_value=_parser(datetime.datetime),
    ),
    datetime.date: strawberry.scalar(
        name="Date",
        description="An ISO-8601 date",
        serialize=_iso,
        parse_value=_parser(datetime.date),
    ),
    datetime.time: strawberry.scalar(
        name="Time",
        description="An ISO-8601 time",
        serialize=_iso,
        parse_value=_parser(datetime.time),
    ),
}
