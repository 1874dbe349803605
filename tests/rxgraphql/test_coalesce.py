"""Coalescing: patches of one anchor queued while the loop was busy reach the listeners as one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from board.channels import BoardChannel

from rxgraphql import backends
from rxgraphql.backends import Patch
from rxgraphql.coalesce import merge_patches
from rxgraphql.feeds import AnchorFeed
from rxgraphql.records import Record, RecordKey
from rxgraphql.stream import Notice, anchor_topic


def _key(record: Record) -> RecordKey:
    return (record["__typename"], str(record["id"]))


def _patch(
    version: int,
    records: list[Record] | None = None,
    deleted: list[RecordKey] | None = None,
    epoch: str = "e",
    reset: bool = False,
    owners: dict[str, str] | None = None,
    previous_owners: dict[str, str] | None = None,
) -> Patch:
    return Patch(
        BoardChannel._meta.channel_name,
        "1",
        epoch,
        version,
        records or [],
        deleted or [],
        reset=reset,
        owners=owners or {},
        previous_owners=previous_owners or {},
    )


def _card(pk: int, title: str) -> Record:
    return {"__typename": "Card", "id": pk, "title": title}


def test_one_patch_is_left_as_it_is() -> None:
    patch = _patch(1, [_card(1, "a")])
    assert merge_patches([patch], _key) == [patch]


def test_the_merge_keeps_the_last_write_of_each_record() -> None:
    (merged,) = merge_patches(
        [
            _patch(1, [_card(1, "a"), _card(2, "b")]),
            _patch(2, [_card(1, "a2")], [("Card", "3")]),
            _patch(3, [], [("Card", "2")]),
        ],
        _key,
    )
    assert merged.version == 3
    assert merged.records == [_card(1, "a2")]
    assert merged.deleted == [("Card", "3"), ("Card", "2")]


def test_a_record_deleted_then_created_again_is_an_upsert() -> None:
    (merged,) = merge_patches([_patch(1, [], [("Card", "1")]), _patch(2, [_card(1, "back")])], _key)
    assert (merged.records, merged.deleted) == ([_card(1, "back")], [])


def test_a_reset_drops_what_came_before_it_and_epochs_are_never_mixed() -> None:
    merged = merge_patches(
        [
            _patch(1, [_card(1, "old")]),
            _patch(1, [_card(2, "full")], reset=True, epoch="f"),
            _patch(2, [_card(3, "new")], [("Card", "2")], epoch="f"),
            _patch(1, [_card(4, "other")], epoch="g"),
        ],
        _key,
    )
    assert [(p.epoch, p.version, p.reset) for p in merged] == [("f", 2, True), ("g", 1, False)]
    assert merged[0].records == [_card(3, "new")]
    assert merged[0].deleted == []  # a reset carries the whole state: its listeners drop the rest


def test_owners_come_from_the_last_patch_and_former_owners_from_the_first() -> None:
    (merged,) = merge_patches(
        [
            _patch(1, [], owners={"Reminder:1": "2"}, previous_owners={"Reminder:1": "1"}),
            _patch(2, [], owners={"Reminder:1": "3"}, previous_owners={"Reminder:1": "2"}),
        ],
        _key,
    )
    assert (merged.owners, merged.previous_owners) == ({"Reminder:1": "3"}, {"Reminder:1": "1"})


class _Listener:
    user: str | None = None  # BoardChannel has per-user records: the feed hands it what nobody owns

    def __init__(self, expected: int) -> None:
        self.events: list[object] = []
        self.expected = expected
        self.done = asyncio.Event()

    def _got(self, event: object) -> None:
        self.events.append(event)
        if len(self.events) == self.expected:
            self.done.set()

    def deliver(self, patch: Patch) -> None:
        self._got(patch)

    def notify(self, notice: Notice) -> None:
        self._got(notice)


@pytest.fixture
def fresh_backends(settings: object) -> Iterator[None]:
    backends.reset()
    yield
    backends.reset()


def test_a_burst_reaches_the_listeners_as_one_patch_and_notices_keep_their_place(
    fresh_backends: None,
) -> None:
    async def scenario() -> list[object]:
        listener = _Listener(expected=3)
        feed = AnchorFeed(BoardChannel, "1", lambda: None)
        feed.listeners.add(listener)
        await feed.opened
        broker = backends.get_broker()
        name = anchor_topic(BoardChannel._meta.channel_name, "1")
        # The embedded broker queues each message on the loop: all of them wait while this runs.
        for version in range(1, 6):
            broker.publish(name, _patch(version, [_card(1, f"v{version}")]).encode())
        broker.publish(name, Notice({"text": "hi"}).encode())
        broker.publish(name, _patch(6, [_card(1, "v6")]).encode())
        await listener.done.wait()
        feed.remove(listener)
        return listener.events

    first, notice, last = asyncio.run(scenario())
    assert isinstance(first, Patch)
    assert isinstance(last, Patch)
    assert (first.version, first.records) == (5, [_card(1, "v5")])
    assert isinstance(notice, Notice)
    assert last.version == 6
