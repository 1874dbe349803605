"""The embedded cache's heat: a large anchor's index leaves the collector's generations once installed."""

from __future__ import annotations

import asyncio
import gc

import pytest

from rxgraphql.backends import memory
from rxgraphql.backends.base import AnchorState
from rxgraphql.records import Record, RecordKey

CHANNEL = "board.channels.BoardChannel"
BOARD: RecordKey = ("Board", "1")


def _tree(cards: int) -> list[tuple[RecordKey, Record, list[RecordKey]]]:
    refs = [("Card", str(i)) for i in range(cards)]
    board = {"__typename": "Board", "id": "1", "cards": [str(i) for i in range(cards)]}
    return [(BOARD, board, refs)] + [(ref, {"__typename": "Card", "id": ref[1]}, []) for ref in refs]


def _heat(cache: memory.MemoryRecordCache, cards: int) -> memory._Anchor:
    async def heat() -> None:
        assert await cache.begin_heat(CHANNEL, "1")
        assert cache.note_backlog(CHANNEL, "1", [("board.card", "3")])
        assert await cache.finish_heat(CHANNEL, "1", BOARD, _tree(cards)) == [("board.card", "3")]

    asyncio.run(heat())
    return cache._anchors[(CHANNEL, "1")]


@pytest.mark.parametrize(("least", "frozen"), [(3, True), (10**9, False)])
def test_a_large_heat_freezes_the_anchor_it_installs(
    collector: None, monkeypatch: pytest.MonkeyPatch, least: int, frozen: bool
) -> None:
    monkeypatch.setattr(memory, "FREEZE_RECORDS", least)
    anchor = _heat(memory.MemoryRecordCache(), 3)
    assert anchor.state is AnchorState.HOT
    assert anchor.versions == dict.fromkeys(anchor.records, 1)
    assert set(anchor.referrers) == {("Card", "0"), ("Card", "1"), ("Card", "2")}
    assert gc.isenabled()
    assert (gc.get_freeze_count() > 0) is frozen
    tracked = {id(obj) for obj in gc.get_objects()}
    assert (id(anchor.referrers) in tracked) is not frozen
