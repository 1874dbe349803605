"""Rows rebuilt from the columns a notification carried: which columns count, and what the row holds."""

from __future__ import annotations

from typing import Any

import pytest
from board.models import Card
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rxgraphql.carried_rows import _exact_columns, row_from_values
from tests.support.world import make_board_world


def _values(card: Card) -> dict[str, Any]:
    return {field.column: getattr(card, field.attname) for field in Card._meta.concrete_fields}


def test_columns_json_carries_exactly_are_text_integers_and_integer_foreign_keys() -> None:
    exact = _exact_columns(Card, "default")
    assert exact is not None
    assert {"id", "title", "description", "position", "column_id", "assignee_id"} <= exact.keys()
    assert "estimate" not in exact  # a decimal would come back as a float
    assert "due_at" not in exact  # a time would come back as text, its zone as the server wrote it


@pytest.mark.django_db
def test_the_rebuilt_row_holds_the_carried_columns_and_loads_the_others_when_read() -> None:
    make_board_world()
    card = Card.objects.exclude(due_at=None).first() or Card.objects.first()
    assert card is not None
    values = {**_values(card), "title": "from the notification"}
    row = row_from_values(Card, values, {"title"})
    assert row is not None
    with CaptureQueriesContext(connection) as queries:
        assert (row.pk, row.title, row.column_id) == (card.pk, "from the notification", card.column_id)
    assert queries.captured_queries == []
    with CaptureQueriesContext(connection) as queries:
        assert row.due_at == card.due_at  # deferred: read from the database, as a deferred field is
    assert len(queries.captured_queries) == 1


def test_no_row_without_a_column_it_must_read_or_a_foreign_key() -> None:
    values = {"id": 1, "title": "t", "description": "", "position": 0, "column_id": 2}
    values |= {"assignee_id": None, "created_by_id": None}
    assert row_from_values(Card, values, {"title"}) is not None
    assert row_from_values(Card, values, {"estimate"}) is None  # not carried exactly
    assert row_from_values(Card, {k: v for k, v in values.items() if k != "column_id"}, {"title"}) is None
    assert row_from_values(Card, {k: v for k, v in values.items() if k != "id"}, {"title"}) is None
