"""The MongoDB STAND-IN holds a 10k-record anchor among 100 others: the backend's lookups use its indexes.

Counts, not times: the stand-in reports how many documents its matcher examined (MongoDB's
``docsExamined``); each lookup of the write path must examine only the documents it is about.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from rxgraphql.backends.mongo import MongoStore
from rxgraphql.records import Record, RecordKey
from tests.support.mongo_standin import StandinServer

CHANNEL = "tests.Standin"
BIG = 10_000
SMALL = 100
ANCHORS = 100


def _anchor(anchor: str, size: int) -> list[tuple[RecordKey, Record, list[RecordKey]]]:
    root: RecordKey = ("Root", anchor)
    items: list[RecordKey] = [("Item", f"{anchor}-{n}") for n in range(size - 1)]
    records = [(root, {"__typename": "Root", "id": anchor}, items)]
    records.extend((key, {"__typename": "Item", "id": key[1]}, []) for key in items)
    return records


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[StandinServer, MongoStore]]:
    server = StandinServer().start()
    store = MongoStore(server.url, "rxtest_standin")
    try:
        yield server, store
    finally:
        store.close()
        server.shutdown()


@pytest.fixture(scope="module")
def filled(standin: tuple[StandinServer, MongoStore]) -> tuple[StandinServer, MongoStore]:
    server, store = standin

    async def fill() -> None:
        await store.write_heat(CHANNEL, "big", "e1", 1, _anchor("big", BIG))
        for n in range(ANCHORS):
            await store.write_heat(CHANNEL, f"a{n}", "e1", 1, _anchor(f"a{n}", SMALL))

    asyncio.run(fill())
    return server, store


def _examined(server: StandinServer, action: object) -> int:
    before = server.engine.examined()
    assert callable(action)
    action()
    return server.engine.examined() - before


def test_it_holds_the_big_anchor_and_the_hundred_others(filled: tuple[StandinServer, MongoStore]) -> None:
    _, store = filled
    assert store.count(CHANNEL, "big") == BIG
    assert sorted(store.stored_anchors(CHANNEL)) == sorted(["big", *(f"a{n}" for n in range(ANCHORS))])


def test_the_write_path_lookups_examine_only_what_they_find(filled: tuple[StandinServer, MongoStore]) -> None:
    server, store = filled
    item: RecordKey = ("Item", "big-5000")
    assert _examined(server, lambda: store.load(CHANNEL, "big", "e1", item)) == 1
    assert _examined(server, lambda: store.referrers(CHANNEL, "big", "e1", item)) == 1
    keys = [item, ("Item", "a7-3"), ("Root", "a9")]
    found = store.anchors_containing(CHANNEL, keys)
    assert found == {item: {"big"}, ("Item", "a7-3"): {"a7"}, ("Root", "a9"): {"a9"}}
    assert _examined(server, lambda: store.anchors_containing(CHANNEL, keys)) == 3
    record: Record = {"__typename": "Item", "id": "big-5000", "title": "changed"}
    assert _examined(server, lambda: store.write(CHANNEL, "big", "e1", 2, {item: (record, [])}, [])) <= 1
    assert store.load(CHANNEL, "big", "e1", item) == (record, [], False)


def test_reading_one_anchor_examines_that_anchor_only(filled: tuple[StandinServer, MongoStore]) -> None:
    server, store = filled

    def read() -> None:
        records, _ = asyncio.run(store.read(CHANNEL, "a3", "e1", None))
        assert len(records) == SMALL

    assert _examined(server, read) == SMALL


def _keys_examined(server: StandinServer, action: object) -> int:
    before = server.engine.keys_examined()
    assert callable(action)
    action()
    return server.engine.keys_examined() - before


def test_a_lookup_in_the_big_anchor_reads_only_the_entries_of_the_index_naming_fewest(
    filled: tuple[StandinServer, MongoStore],
) -> None:
    # Filters naming the anchor are served by several indexes; those on the anchor alone name its 10k
    # records, and a lookup of one key must not read them (MongoDB's planner takes the narrowest index).
    server, store = filled
    item: RecordKey = ("Item", "big-42")
    assert _keys_examined(server, lambda: store.present(CHANNEL, "big", "e1", [item])) == 1
    assert _keys_examined(server, lambda: store.load_many(CHANNEL, "big", "e1", [item, ("Root", "big")])) == 2
    assert _keys_examined(server, lambda: store.referrers(CHANNEL, "big", "e1", item)) == 1
    record: Record = {"__typename": "Item", "id": "big-42", "title": "changed"}
    assert _keys_examined(server, lambda: store.write(CHANNEL, "big", "e1", 3, {item: (record, [])}, [])) <= 1
