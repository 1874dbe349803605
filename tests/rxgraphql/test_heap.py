"""The collector around heats and subscriptions: paused while an anchor renders, rows freed without it,
large heats, the started application and settled subscriptions frozen."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from board.channels import BoardChannel
from board.models import Card
from django.db import models
from django.test import override_settings

from rxgraphql.heap import freeze_startup, paused_gc, release_rows, released, settle_soon, unlink
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


class _Cycle:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_cycles_frozen_alive_are_collected_when_the_frozen_heap_has_grown(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import heap

    monkeypatch.setattr(heap, "THAW_GROWTH", 0.0)  # any growth is enough
    monkeypatch.setattr(heap, "THAW_EVERY", 2)  # and the second freeze
    in_flight = _Cycle()  # alive when the heap is frozen, garbage afterwards
    gone = weakref.ref(in_flight)
    with paused_gc() as pause:
        pause.freeze = True
    del in_flight
    gc.collect()
    assert gone() is not None  # frozen: no collection reaches it
    released()  # say a subscription closed
    with paused_gc() as pause:
        pause.freeze = True
    assert gone() is None  # the second freeze thawed the heap and collected it first
    assert gc.get_freeze_count() > 0


def test_a_heap_that_only_grew_is_not_thawed(collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from rxgraphql import heap

    monkeypatch.setattr(heap, "THAW_GROWTH", 0.0)
    monkeypatch.setattr(heap, "THAW_EVERY", 1)
    in_flight = _Cycle()
    gone = weakref.ref(in_flight)
    freeze_startup()
    del in_flight
    with paused_gc() as pause:
        pause.freeze = True  # grown, but nothing long-lived ended
    gc.collect()
    assert gone() is not None


def test_a_freeze_below_the_growth_keeps_the_frozen_heap(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import heap

    monkeypatch.setattr(heap, "THAW_EVERY", 1)
    in_flight = _Cycle()
    gone = weakref.ref(in_flight)
    freeze_startup()
    del in_flight
    released()
    with paused_gc() as pause:
        pause.freeze = True  # the frozen heap has not doubled: no thaw
    gc.collect()
    assert gone() is not None


def test_startup_collects_then_freezes(collector: None) -> None:
    garbage = _Cycle()
    gone = weakref.ref(garbage)
    del garbage
    freeze_startup()
    assert gone() is None
    assert gc.get_freeze_count() > 0


def test_thaws_come_at_most_once_per_thaw_every_freezes(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import heap

    monkeypatch.setattr(heap, "THAW_GROWTH", 0.0)
    monkeypatch.setattr(heap, "THAW_EVERY", 3)
    in_flight = _Cycle()
    gone = weakref.ref(in_flight)
    freeze_startup()  # the first freeze since the (fixture's) thaw
    del in_flight
    released()
    with paused_gc() as pause:
        pause.freeze = True  # the second: not yet
    assert gone() is not None
    with paused_gc() as pause:
        pause.freeze = True  # the third thaws
    assert gone() is None


async def test_subscriptions_going_live_freeze_the_heap_once_settled(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import heap

    settled = asyncio.Event()
    calls: list[int] = []

    def settle() -> None:
        calls.append(gc.get_freeze_count())
        original()
        settled.set()

    original = heap._settle
    monkeypatch.setattr(heap, "_settle", settle)
    monkeypatch.setattr(heap, "SETTLE_SECONDS", 0.01)
    settle_soon()
    settle_soon()  # the same freeze serves both
    await asyncio.wait_for(settled.wait(), 5)
    assert calls == [0]
    assert gc.get_freeze_count() > 0


async def test_a_settle_during_a_heat_waits_for_its_end(
    collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxgraphql import heap

    settled = asyncio.Event()
    original = heap._settle
    monkeypatch.setattr(heap, "_settle", lambda: (original(), settled.set()))
    monkeypatch.setattr(heap, "SETTLE_SECONDS", 0.01)
    with paused_gc():
        settle_soon()
        await asyncio.wait_for(settled.wait(), 5)
        assert gc.get_freeze_count() == 0  # never in the middle of a render
    assert gc.get_freeze_count() > 0


@override_settings(RXGRAPHQL={"FREEZE_HEAP": False})
async def test_nothing_is_frozen_when_the_setting_is_off(collector: None) -> None:
    from rxgraphql import heap

    freeze_startup()
    assert gc.get_freeze_count() == 0
    settle_soon()  # a loop runs: only the setting keeps a freeze from being scheduled
    assert heap._settle_due == 0.0
