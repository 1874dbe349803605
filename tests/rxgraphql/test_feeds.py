"""An anchor's feed hands each listener what its user may see, as few distinct patch objects as it can."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from board.channels import BoardChannel

from rxgraphql import backends
from rxgraphql.feeds import AnchorFeed
from rxgraphql.records import Record
from rxgraphql.stream import Notice, Patch, anchor_topic


class _Listener:
    def __init__(self, user: str | None) -> None:
        self.user = user
        self.got: list[Patch | Notice] = []
        self.arrived = asyncio.Event()

    def deliver(self, patch: Patch) -> None:
        self.got.append(patch)
        self.arrived.set()

    def notify(self, notice: Notice) -> None:
        self.got.append(notice)
        self.arrived.set()


@pytest.fixture
def fresh_backends(settings: object) -> Iterator[None]:
    backends.reset()
    yield
    backends.reset()


def _patch(
    version: int,
    records: list[Record],
    owners: dict[str, str] | None = None,
    epoch: str = "e",
    reset: bool = False,
) -> Patch:
    return Patch(
        channel=BoardChannel._meta.channel_name,
        anchor="1",
        epoch=epoch,
        version=version,
        records=records,
        owners=owners or {},
        reset=reset,
    )


def test_listeners_get_one_object_per_patch_everyone_reads_alike_and_one_per_user_otherwise(
    fresh_backends: None,
) -> None:
    async def scenario() -> tuple[_Listener, _Listener, _Listener]:
        alice, alice_again, bob = _Listener("1"), _Listener("1"), _Listener("2")
        feed = AnchorFeed(BoardChannel, "1", lambda: None)
        feed.listeners.update({alice, alice_again, bob})
        await feed.opened
        broker = backends.get_broker()
        topic = anchor_topic(BoardChannel._meta.channel_name, "1")

        async def publish(data: bytes, reaching: list[_Listener]) -> None:
            for listener in reaching:
                listener.arrived.clear()
            broker.publish(topic, data)
            for listener in reaching:
                await listener.arrived.wait()

        everyone = [alice, alice_again, bob]
        await publish(_patch(1, [{"__typename": "Board", "id": 1, "title": "t"}]).encode(), everyone)
        reminder = {"__typename": "Reminder", "id": 4, "text": "mine", "owner": 1}
        await publish(_patch(2, [reminder], {"Reminder:4": "1"}).encode(), [alice, alice_again])
        await publish(Notice({"text": "hi"}).encode(), everyone)
        for listener in everyone:
            feed.remove(listener)
        return alice, alice_again, bob

    alice, alice_again, bob = asyncio.run(scenario())
    board, mine, _ = alice.got
    assert alice_again.got[0] is board  # one object: rendered once per document
    assert bob.got[0] is board
    assert alice_again.got[1] is mine  # one view for each user, shared by their listeners
    assert isinstance(mine, Patch)
    assert mine.records == [{"__typename": "Reminder", "id": 4, "text": "mine", "owner": 1}]
    assert mine.owners == {}
    assert [type(item) for item in bob.got] == [Patch, Notice]  # nothing of the reminder reached bob


def test_users_a_per_user_patch_does_not_name_share_one_view(fresh_backends: None) -> None:
    async def scenario() -> list[_Listener]:
        listeners = [_Listener(str(user)) for user in range(1, 6)]
        feed = AnchorFeed(BoardChannel, "1", lambda: None)
        feed.listeners.update(listeners)
        await feed.opened
        card = {"__typename": "Card", "id": 5, "title": "c", "reminders": [4]}
        reminder = {"__typename": "Reminder", "id": 4, "text": "mine", "owner": 1}
        for listener in listeners:
            listener.arrived.clear()
        backends.get_broker().publish(
            anchor_topic(BoardChannel._meta.channel_name, "1"),
            _patch(1, [card, reminder], {"Reminder:4": "1"}).encode(),
        )
        for listener in listeners:
            await listener.arrived.wait()
        for listener in listeners:
            feed.remove(listener)
        return listeners

    alice, *others = asyncio.run(scenario())
    (hers,) = alice.got
    assert isinstance(hers, Patch)
    assert hers.records[0]["reminders"] == [4]
    shared = others[0].got[0]
    assert isinstance(shared, Patch)
    assert shared.records == [{"__typename": "Card", "id": 5, "title": "c", "reminders": []}]
    assert all(listener.got[0] is shared for listener in others)  # one view, rendered once


def test_a_patch_of_another_epoch_is_not_handed_on_but_makes_the_feed_catch_up(
    fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario() -> tuple[_Listener, int]:
        listener = _Listener(None)
        feed = AnchorFeed(BoardChannel, "1", lambda: None)
        feed.listeners.add(listener)
        await feed.opened
        asked = asyncio.Event()
        catch_ups = 0

        async def catch_up_stand_in() -> None:  # stands in for the cache's answer: nothing newer
            nonlocal catch_ups
            catch_ups += 1
            asked.set()

        monkeypatch.setattr(feed, "catch_up", catch_up_stand_in)
        board = {"__typename": "Board", "id": 1, "title": "t"}
        publish = backends.get_broker().publish
        topic = anchor_topic(BoardChannel._meta.channel_name, "1")
        publish(topic, _patch(2_000_000, [board]).encode())
        await listener.arrived.wait()
        # A late patch of the epoch the one above replaced (its versions are lower): not handed on.
        publish(topic, _patch(7, [{**board, "title": "stale"}], epoch="old").encode())
        await asyncio.wait_for(asked.wait(), 30)  # a hang guard, nothing timed
        # A reset of another epoch replaces the listeners' state: handed on.
        listener.arrived.clear()
        publish(topic, _patch(3_000_000, [{**board, "title": "reset"}], epoch="new", reset=True).encode())
        await listener.arrived.wait()
        feed.remove(listener)
        return listener, catch_ups

    listener, catch_ups = asyncio.run(scenario())
    assert catch_ups == 1
    titles = [item.records[0]["title"] for item in listener.got if isinstance(item, Patch)]
    assert titles == ["t", "reset"]
