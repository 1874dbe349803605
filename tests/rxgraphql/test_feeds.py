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


def _patch(version: int, records: list[Record], owners: dict[str, str] | None = None) -> Patch:
    return Patch(
        channel=BoardChannel._meta.channel_name,
        anchor="1",
        epoch="e",
        version=version,
        records=records,
        owners=owners or {},
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
