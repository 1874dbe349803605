"""The collector around heats: paused while an anchor renders, rows freed without it, large heats frozen."""

from __future__ import annotations

import gc
import weakref

import pytest
from board.channels import BoardChannel
from board.models import Card
from django.db import models

from rxgraphql.heap import paused_gc, release_rows, unlink
from rxgraphql.propagate import heat_records
from tests.support.world import BoardWorld


def _garbage_rows() -> list[models.Model]:
    """The model instances only a collection would free (kept in ``gc.garbage`` to be looked at)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    gc.set_debug(0)
    found = [obj for obj in gc.garbage if isinstance(obj, models.Model)]
    gc.garbage.clear()
    return found


def test_a_heat_leaves_no_row_to_the_collector(board_world: BoardWorld, collector: None) -> None:
    gc.collect()
    gc.disable()
    heated = heat_records(BoardChannel, str(board_world.board_a.pk))
    assert heated is not None
    assert _garbage_rows() == []


def test_release_rows_frees_prefetched_rows_by_reference_counting(
    board_world: BoardWorld, collector: None
) -> None:
    gc.collect()
    gc.disable()
    rows = {
        card.pk: card
        for card in Card.objects.filter(column__board=board_world.board_a).prefetch_related("comments")
    }
    comments = [comment for card in rows.values() for comment in card.comments.all()]
    assert comments
    assert all(comment._state.fields_cache["card"] is rows[comment.card_id] for comment in comments)  # cycles
    freed = [weakref.ref(row) for row in [*rows.values(), *comments]]
    del comments
    release_rows(rows)
    assert rows == {}
    assert [ref for ref in freed if ref() is not None] == []


def test_an_unlinked_row_stays_usable(board_world: BoardWorld) -> None:
    card = Card.objects.prefetch_related("comments").get(title="Write spec")
    unlink(card)
    assert sorted(comment.text for comment in card.comments.all()) == ["First draft is up", "Reviewing"]


def test_the_collector_resumes_when_the_last_pause_ends(collector: None) -> None:
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_freeze_asked_by_one_pause_happens_when_the_last_one_ends(collector: None) -> None:
    with paused_gc():
        with paused_gc() as inner:
            inner.freeze = True
        assert gc.get_freeze_count() == 0
        kept = [[]]  # a tracked object alive when the pauses end
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # in the permanent generation


def test_no_freeze_when_the_collector_was_disabled_before(collector: None) -> None:
    gc.disable()
    with paused_gc() as pause:
        pause.freeze = True
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_the_collector_resumes_after_a_failed_render(collector: None) -> None:
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("render failed")
    assert gc.isenabled()


def test_cycles_frozen_alive_are_collected_at_the_next_thaw(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import heap

    class Node:
        def __init__(self) -> None:
            self.me = self  # a reference cycle: only the collector frees it

    monkeypatch.setattr(heap, "THAW_EVERY", 2)
    monkeypatch.setattr(heap, "_freezes", 0)
    in_flight = Node()  # alive when the heap is frozen, garbage afterwards
    gone = weakref.ref(in_flight)
    with paused_gc() as pause:
        pause.freeze = True
    del in_flight
    gc.collect()
    assert gone() is not None  # frozen: no collection reaches it
    with paused_gc() as pause:
        pause.freeze = True
    assert gone() is None  # the second freeze thawed the heap and collected it first
    assert gc.get_freeze_count() > 0
