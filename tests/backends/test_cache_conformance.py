"""One conformance suite for the RecordCache protocol, run on the embedded and on the shared backends."""

from __future__ import annotations

import asyncio
import time

import pytest

from rxgraphql.backends.base import AnchorState, RecordCache
from rxgraphql.records import Record, RecordKey
from tests.support.waiting import async_wait_until

CHANNEL = "board.channels.BoardChannel"
pytestmark = pytest.mark.timeout(60)


def rec(type_name: str, pk: str, **fields: object) -> Record:
    return {"__typename": type_name, "id": pk, **fields}


BOARD: RecordKey = ("Board", "1")
TREE = [
    (BOARD, rec("Board", "1", name="b", columns=["10", "11"]), [("Column", "10"), ("Column", "11")]),
    (("Column", "10"), rec("Column", "10", cards=["100"]), [("Card", "100")]),
    (("Column", "11"), rec("Column", "11", cards=[]), []),
    (("Card", "100"), rec("Card", "100", title="t"), []),
]


async def heat(
    cache: RecordCache, anchor: str = "1", tree: list[tuple[RecordKey, Record, list[RecordKey]]] = TREE
) -> None:
    assert await cache.begin_heat(CHANNEL, anchor)
    assert await cache.finish_heat(CHANNEL, anchor, BOARD, tree) == []


def keys(records: list[Record]) -> set[RecordKey]:
    return {(r["__typename"], str(r["id"])) for r in records}


async def test_cold_anchor_has_no_snapshot_and_heats_once(cache: RecordCache) -> None:
    assert await cache.snapshot(CHANNEL, "1", None) is None
    assert not cache.active_anchors(CHANNEL)
    assert await cache.begin_heat(CHANNEL, "1")
    assert not await cache.begin_heat(CHANNEL, "1"), "a second caller must wait, not heat again"
    assert "1" in cache.active_anchors(CHANNEL)
    assert "1" in cache.heating_anchors(CHANNEL)
    assert await cache.finish_heat(CHANNEL, "1", BOARD, TREE) == []
    assert "1" in cache.active_anchors(CHANNEL)
    assert "1" not in cache.heating_anchors(CHANNEL)
    snap = await cache.snapshot(CHANNEL, "1", None)
    assert snap is not None
    assert snap.reset
    assert snap.version > 0
    assert keys(snap.records) == {k for k, _, _ in TREE}
    assert not await cache.begin_heat(CHANNEL, "1"), "a hot anchor is not heated"


async def test_backlog_of_a_heating_anchor(cache: RecordCache) -> None:
    assert not cache.note_backlog(CHANNEL, "1", [("board.card", "5")])
    assert await cache.begin_heat(CHANNEL, "1")
    assert cache.note_backlog(CHANNEL, "1", [("board.card", "5"), ("board.column", "7")])
    backlog = await cache.finish_heat(CHANNEL, "1", BOARD, TREE)
    assert backlog == [("board.card", "5"), ("board.column", "7")]
    assert not cache.note_backlog(CHANNEL, "1", [("board.card", "5")])


async def test_abort_heat_leaves_the_anchor_cold(cache: RecordCache) -> None:
    assert await cache.begin_heat(CHANNEL, "1")
    await cache.abort_heat(CHANNEL, "1")
    assert await cache.snapshot(CHANNEL, "1", None) is None
    assert "1" not in cache.active_anchors(CHANNEL)
    assert await cache.begin_heat(CHANNEL, "1")


async def test_waiters_wake_when_the_heat_finishes(cache: RecordCache) -> None:
    assert await cache.begin_heat(CHANNEL, "1")

    async def waiter() -> AnchorState:
        state = AnchorState.HEATING
        while state is AnchorState.HEATING:
            state = await cache.wait_hot(CHANNEL, "1")
        return state

    task = asyncio.ensure_future(waiter())
    await asyncio.sleep(0.1)
    assert not task.done()
    await cache.finish_heat(CHANNEL, "1", BOARD, TREE)
    assert await asyncio.wait_for(task, 5) is AnchorState.HOT


async def test_edits_version_and_resume(cache: RecordCache) -> None:
    with cache.edit(CHANNEL, "1") as edit:
        assert edit is None, "a cold anchor is not edited"
    await heat(cache)
    first = await cache.snapshot(CHANNEL, "1", None)
    assert first is not None
    with cache.lock(CHANNEL, ["1"]), cache.edit(CHANNEL, "1") as edit:
        assert edit is not None
        assert edit.root == BOARD
        assert edit.get(("Card", "100")) == rec("Card", "100", title="t")
        assert set(edit.referrers(("Card", "100"))) == {("Column", "10")}
        edit.put(("Card", "101"), rec("Card", "101", title="new"), [])
        edit.put(("Column", "11"), rec("Column", "11", cards=["101"]), [("Card", "101")])
        assert set(edit.referrers(("Card", "101"))) == {("Column", "11")}
        edit.put(("Column", "10"), rec("Column", "10", cards=[]), [])
        edit.remove(("Card", "100"))
        assert edit.get(("Card", "100")) is None
        patch = edit.commit()
    assert patch is not None
    assert patch.version > first.version
    assert patch.epoch == first.epoch
    assert keys(patch.records) == {("Card", "101"), ("Column", "11"), ("Column", "10")}
    assert patch.deleted == [("Card", "100")]
    with cache.edit(CHANNEL, "1") as edit:
        assert edit is not None
        edit.put(("Card", "101"), rec("Card", "101", title="new"), [])
        assert edit.commit() is None, "an unchanged record is no change"
    since = await cache.snapshot(CHANNEL, "1", (first.epoch, first.version))
    assert since is not None
    assert not since.reset
    assert since.version == patch.version
    assert keys(since.records) == {("Card", "101"), ("Column", "11"), ("Column", "10")}
    assert since.deleted == [("Card", "100")]
    full = await cache.snapshot(CHANNEL, "1", ("other-epoch", 1))
    assert full is not None
    assert full.reset
    assert ("Card", "100") not in keys(full.records)
    future = await cache.snapshot(CHANNEL, "1", (first.epoch, patch.version + 100))
    assert future is not None
    assert future.reset


async def test_anchors_containing(cache: RecordCache) -> None:
    await heat(cache, "1")
    other = [
        ((("Board", "2")), rec("Board", "2", columns=["10"]), [("Column", "10")]),
        (("Column", "10"), rec("Column", "10", cards=[]), []),
    ]
    assert await cache.begin_heat(CHANNEL, "2")
    await cache.finish_heat(CHANNEL, "2", ("Board", "2"), other)
    found = cache.anchors_containing(CHANNEL, [("Column", "10"), ("Card", "100"), ("Card", "999")])
    assert set(found[("Column", "10")]) == {"1", "2"}
    assert set(found[("Card", "100")]) == {"1"}
    assert ("Card", "999") not in found


async def test_expiry_after_the_ttl_of_the_last_subscriber(cache: RecordCache) -> None:
    await heat(cache)
    await cache.retain(CHANNEL, "1", 0.3)
    await cache.retain(CHANNEL, "1", 0.3)
    await cache.release(CHANNEL, "1", 0.3)
    assert cache.expire_idle([CHANNEL], dry_run=True) == [], "still watched"
    await cache.release(CHANNEL, "1", 60)
    assert cache.expire_idle([CHANNEL], dry_run=True) == [], "the TTL has not passed"
    await cache.retain(CHANNEL, "1", 0.3)
    await cache.release(CHANNEL, "1", 0.3)
    await asyncio.sleep(0.02)
    deadline = time.monotonic() + 5
    listed = cache.expire_idle([CHANNEL], dry_run=True)
    while not listed and time.monotonic() < deadline and await cache.snapshot(CHANNEL, "1", None) is not None:
        await asyncio.sleep(0.05)
        listed = cache.expire_idle([CHANNEL], dry_run=True)
    # Either listed for a dry run, or already freed by the process's own timer after the TTL.
    if listed:
        # (The process's own timer may free it right after this listing: the dry run itself frees
        # nothing, which test_shared_backends checks where no timer runs.)
        assert [(e.channel, e.anchor, e.records) for e in listed] == [(CHANNEL, "1", len(TREE))]
        cache.expire_idle([CHANNEL])

    async def freed() -> bool:
        return await cache.snapshot(CHANNEL, "1", None) is None

    await async_wait_until(freed, "the anchor is freed after the TTL of its last subscriber")

    async def cold() -> bool:  # the process's own timer may still be cooling it
        return await cache.wait_hot(CHANNEL, "1") is AnchorState.COLD

    await async_wait_until(cold, "the freed anchor ends cold")
    assert "1" not in cache.active_anchors(CHANNEL)
    assert cache.anchors_containing(CHANNEL, [BOARD]) == {}
    assert await cache.begin_heat(CHANNEL, "1"), "an expired anchor heats again"
