"""Rows by primary key through a statement compiled once: the same instances as the ORM's, one query a
read, no compilation after the first, and a manager that builds its own query read through it."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from board.models import Card
from django.db import connection, models
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from rxgraphql import row_reads
from rxgraphql.row_reads import rows_by_pk
from tests.support.world import make_board_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def compiled_afresh() -> Iterator[None]:
    """Statements compiled by other tests (or under a patched manager) are not reused."""
    row_reads._statement.cache_clear()
    yield
    row_reads._statement.cache_clear()


def _values(row: models.Model) -> list[Any]:
    return [getattr(row, field.attname) for field in row._meta.concrete_fields]


def test_rows_come_back_as_the_orm_reads_them() -> None:
    make_board_world()
    cards = list(Card.objects.order_by("pk"))
    missing = max(card.pk for card in cards) + 1000
    found = rows_by_pk(Card, [str(card.pk) for card in cards] + [str(missing)])
    assert sorted(_values(row) for row in found) == sorted(_values(card) for card in cards)
    assert all(type(row) is Card and not row._state.adding and row._state.db == "default" for row in found)


def test_the_statement_is_compiled_once_and_each_read_is_one_query(monkeypatch: pytest.MonkeyPatch) -> None:
    make_board_world()
    first, second = Card.objects.order_by("pk")[:2]
    compiled: list[SQLCompiler] = []
    real = SQLCompiler.as_sql

    def counting(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        compiled.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    rows_by_pk(Card, [first.pk])
    assert compiled  # the first read compiles the statement
    compiled.clear()
    with CaptureQueriesContext(connection) as queries:
        (row,) = rows_by_pk(Card, [second.pk])
    assert compiled == []
    assert len(queries.captured_queries) == 1
    assert row.pk == second.pk


def test_the_fields_database_converters_are_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    make_board_world()
    card = Card.objects.order_by("pk").first()
    assert card is not None
    ops = type(connection.ops)
    real = ops.get_db_converters

    def shouting(self: Any, expression: Any) -> list[Any]:
        found = list(real(self, expression))
        if getattr(expression, "target", None) is Card._meta.get_field("title"):
            found.append(lambda value, expression, connection: value.upper())
        return found

    monkeypatch.setattr(ops, "get_db_converters", shouting)
    monkeypatch.setattr(row_reads, "_CONVERTERS", weakref.WeakKeyDictionary())  # found before the patch
    (row,) = rows_by_pk(Card, [card.pk])
    assert row.title == card.title.upper() == Card.objects.get(pk=card.pk).title


def test_the_converters_are_found_once_per_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    make_board_world()
    first, second = Card.objects.order_by("pk")[:2]
    ops = type(connection.ops)
    real = ops.get_db_converters
    asked: list[Any] = []

    def counting(self: Any, expression: Any) -> list[Any]:
        asked.append(expression)
        return list(real(self, expression))

    monkeypatch.setattr(ops, "get_db_converters", counting)
    monkeypatch.setattr(row_reads, "_CONVERTERS", weakref.WeakKeyDictionary())
    rows_by_pk(Card, [first.pk])
    assert len(asked) == len(Card._meta.concrete_fields)
    (row,) = rows_by_pk(Card, [second.pk])
    assert len(asked) == len(Card._meta.concrete_fields)  # the second read asked nothing
    assert row.title == second.title


def test_a_manager_that_builds_its_own_query_is_read_through_it_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Like a manager filtering on the current tenant: its query may differ from one read to the next."""
    make_board_world()
    shown, hidden = Card.objects.order_by("pk")[:2]
    Card.objects.filter(pk=hidden.pk).update(title="hidden")
    hiding: list[bool] = []

    class Filtering(models.Manager[Card]):
        def get_queryset(self) -> models.QuerySet[Card]:
            found = super().get_queryset()
            return found.exclude(title="hidden") if hiding else found

    monkeypatch.setattr(Card._default_manager, "__class__", Filtering)
    assert sorted(row.pk for row in rows_by_pk(Card, [shown.pk, hidden.pk])) == sorted([shown.pk, hidden.pk])
    hiding.append(True)
    assert [row.pk for row in rows_by_pk(Card, [shown.pk, hidden.pk])] == [shown.pk]
