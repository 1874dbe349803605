"""Signal capture (``CAPTURE = "signals"``): changed rows collected per transaction, once per row,
savepoint-safe."""

from __future__ import annotations

import pytest
from board.models import Board, Card, Column, Label
from django.contrib.auth.models import User
from django.db import transaction
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.authtoken.models import Token

from rxgraphql import changes, touch

Row = tuple[type, str]


@pytest.fixture
def submitted(monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper) -> list[list[Row]]:
    """Every batch the write path hands to the flusher, instead of propagating it (signal capture)."""
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "CAPTURE": "signals"}
    batches: list[list[Row]] = []
    monkeypatch.setattr(changes.flusher, "submit", lambda rows, fields=None: batches.append(list(rows)))
    return batches


@pytest.fixture
def board(transactional_db: None) -> Board:
    owner = User.objects.create(username="owner")
    return Board.objects.create(title="B", owner=owner)


def test_autocommit_save_is_handed_over_at_once(board: Board, submitted: list[list[Row]]) -> None:
    submitted.clear()
    board.title = "renamed"
    board.save()
    assert submitted == [[(Board, str(board.pk))]]


def test_three_saves_in_a_transaction_are_one_row(board: Board, submitted: list[list[Row]]) -> None:
    submitted.clear()
    with transaction.atomic():
        for title in ("a", "b", "c"):
            board.title = title
            board.save()
        assert submitted == []
    assert submitted == [[(Board, str(board.pk))]]


def test_rolled_back_transaction_hands_over_nothing(board: Board, submitted: list[list[Row]]) -> None:
    submitted.clear()

    def rolled_back() -> None:
        with transaction.atomic():
            board.title = "never"
            board.save()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        rolled_back()
    column = Column.objects.create(board=board, title="after")
    assert submitted == [[(Column, str(column.pk))]]


def test_savepoint_rollback_keeps_the_flush_of_committed_rows(
    board: Board, submitted: list[list[Row]]
) -> None:
    submitted.clear()
    with transaction.atomic():
        try:
            with transaction.atomic():
                Column.objects.create(board=board, title="rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
        kept = Column.objects.create(board=board, title="kept")
    assert len(submitted) == 1
    assert (Column, str(kept.pk)) in submitted[0]


def test_first_change_inside_a_rolled_back_savepoint_does_not_drop_later_ones(
    board: Board, submitted: list[list[Row]]
) -> None:
    submitted.clear()
    with transaction.atomic():
        board.title = "outer"
        with transaction.atomic():
            pass
        try:
            with transaction.atomic():
                Column.objects.create(board=board, title="gone")
                raise RuntimeError
        except RuntimeError:
            pass
        board.save()
    assert len(submitted) == 1
    assert (Board, str(board.pk)) in submitted[0]


def test_models_no_channel_shows_are_ignored(board: Board, submitted: list[list[Row]]) -> None:
    submitted.clear()
    Token.objects.create(user=board.owner)
    assert submitted == []


def test_m2m_change_marks_both_sides(board: Board, submitted: list[list[Row]]) -> None:
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="card")
    label = Label.objects.create(board=board, name="bug", color="#ff0000")
    submitted.clear()
    card.labels.add(label)
    assert submitted == [[(Card, str(card.pk)), (Label, str(label.pk))]]
    submitted.clear()
    card.labels.clear()
    assert submitted == [[(Card, str(card.pk)), (Label, str(label.pk))]]


def test_touch_publishes_rows_changed_by_update(board: Board, submitted: list[list[Row]]) -> None:
    column = Column.objects.create(board=board, title="c")
    cards = [Card.objects.create(column=column, title=str(i)) for i in range(3)]
    submitted.clear()
    Card.objects.filter(column=column).update(position=7)
    assert submitted == []
    touch(Card.objects.filter(column=column))
    assert sorted(submitted[0], key=lambda r: int(r[1])) == [(Card, str(c.pk)) for c in cards]


def test_update_fields_of_the_saves_reach_the_flusher(
    board: Board, monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "CAPTURE": "signals"}
    handed: list[dict[Row, frozenset[str] | None]] = []
    monkeypatch.setattr(
        changes.flusher, "submit", lambda rows, fields=None: handed.append(dict(fields or {}))
    )
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="t")
    handed.clear()
    card.title = "t2"
    card.save(update_fields=["title"])
    with transaction.atomic():
        card.save(update_fields=["column_id"])
        card.save(update_fields=["position"])
    card.save()
    key = (Card, str(card.pk))
    assert [batch[key] for batch in handed] == [frozenset({"title"}), frozenset({"column", "position"}), None]
