"""Date and time scalars: ISO-8601 text out, whether a resolver returns text or an object; text in only."""

from __future__ import annotations

import datetime

import pytest

from schema_bridge.scalars import SCALAR_MAP


@pytest.mark.parametrize(
    ("kind", "value", "text"),
    [
        (
            datetime.datetime,
            datetime.datetime(2030, 5, 17, 9, 30, tzinfo=datetime.UTC),
            "2030-05-17T09:30:00+00:00",
        ),
        (datetime.date, datetime.date(2030, 5, 17), "2030-05-17"),
        (datetime.time, datetime.time(9, 30, 5), "09:30:05"),
    ],
)
def test_objects_and_text_serialize_to_the_same_text(kind: type, value: object, text: str) -> None:
    scalar = SCALAR_MAP[kind]
    assert scalar.serialize is not None
    assert scalar.parse_value is not None
    assert scalar.serialize(value) == text
    assert scalar.serialize(text) == text  # DRF's rendering passes through
    assert scalar.parse_value(text) == value


def test_names_are_the_graphql_scalars() -> None:
    assert [SCALAR_MAP[kind].name for kind in (datetime.datetime, datetime.date, datetime.time)] == [
        "DateTime",
        "Date",
        "Time",
    ]


@pytest.mark.parametrize("value", [20300517, None, ["2030-05-17"]])
def test_only_text_parses(value: object) -> None:
    parse = SCALAR_MAP[datetime.date].parse_value
    assert parse is not None
    with pytest.raises(ValueError, match="ISO-8601"):
        parse(value)


def test_text_that_is_no_date_is_refused() -> None:
    parse = SCALAR_MAP[datetime.date].parse_value
    assert parse is not None
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse("17/05/2030")
