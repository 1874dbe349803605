"""Propagation on the shared backends when two processes edit at once: nothing committed is lost.

A writer process decides which anchors a change concerns from the records the cache holds. Another
process may be bringing one of those records into an anchor at that moment, rendered from a database
snapshot taken before the change committed. Each test stops the second process between its snapshot and
its write, commits and propagates a change of the record it is bringing in, then lets it finish: the
anchor must end as the serializer renders it.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from board.channels import BoardChannel
from board.models import Card, Column
from django.contrib.auth.models import User
from django.db import connection

from rxgraphql import propagate as propagate_module
from rxgraphql.backends.base import Broker, RecordCache
from rxgraphql.propagate import heat_records, propagate
from rxgraphql.records import Record, RecordKey
from tests.backends.conftest import make_shared
from tests.support.redis_server import RedisServer
from tests.support.world import BoardWorld, make_board_world

pytestmark = pytest.mark.timeout(120)
CHANNEL = BoardChannel._meta.channel_name
#: A hang guard: the events are set by the other thread long before this.
WAIT = 30.0

Process = tuple[RecordCache, Broker]


@pytest.fixture
def processes(transactional_db: None, redis_server: RedisServer, mongo_url: str) -> Iterator[list[Process]]:
    """Two processes' shared backends (each its own Redis node and MongoDB client) on one Redis and
    one MongoDB database."""
    redis_server.client().flushall()
    database = f"rxtest_{uuid.uuid4().hex[:8]}"
    made: list[Any] = [make_shared(redis_server.url, mongo_url, database) for _ in range(2)]
    try:
        yield made
    finally:
        made[0][0].store.sync_db().client.drop_database(database)
        for cache, _broker in made:
            cache.node.close()
            cache.store.close()


@pytest.fixture
def world(processes: list[Process]) -> BoardWorld:
    """The board world with board A hot in the shared cache."""
    world = make_board_world()
    anchor = str(world.board_a.pk)
    heated = heat_records(BoardChannel, anchor)
    assert heated is not None
    cache = processes[0][0]

    async def heat() -> None:
        assert await cache.begin_heat(CHANNEL, anchor)
        await cache.finish_heat(CHANNEL, anchor, *heated)

    asyncio.run(heat())
    return world


def _records(cache: RecordCache, anchor: str) -> dict[RecordKey, Record]:
    found = asyncio.run(cache.snapshot(CHANNEL, anchor, None))
    assert found is not None
    return {(record["__typename"], str(record["id"])): record for record in found.records}


class _StoppedPropagation:
    """Propagates rows in a thread that stops once it has read its snapshot, before it edits an anchor."""

    def __init__(
        self,
        monkeypatch: pytest.MonkeyPatch,
        process: Process,
        rows: list[tuple[Any, str]],
        fields: dict[Any, Any],
    ) -> None:
        self.stopped, self.go_on = threading.Event(), threading.Event()
        self.errors: list[BaseException] = []
        real = propagate_module.edit_anchor

        def paused(*args: Any) -> Any:
            if threading.current_thread() is self.thread and not self.stopped.is_set():
                self.stopped.set()
                assert self.go_on.wait(WAIT)
            return real(*args)

        def run() -> None:
            try:
                propagate(rows, process[0], process[1], fields)
            except BaseException as error:  # reported by the test, not lost in the thread
                self.errors.append(error)
                self.stopped.set()
            finally:
                connection.close()

        monkeypatch.setattr(propagate_module, "edit_anchor", paused)
        self.thread = threading.Thread(target=run, name="other-process")
        self.thread.start()
        assert self.stopped.wait(WAIT)
        assert not self.errors, self.errors

    def finish(self) -> None:
        self.go_on.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors


Change = tuple[Any, str, dict[Any, Any]]


def _race(
    monkeypatch: pytest.MonkeyPatch,
    processes: list[Process],
    bring_in: Change,
    meanwhile: Callable[[], Change],
) -> None:
    """The first process propagates ``bring_in`` and stops before its edit; the second commits and
    propagates what ``meanwhile`` changes; then the first finishes its edit."""
    model, pk, fields = bring_in
    first = _StoppedPropagation(monkeypatch, processes[0], [(model, pk)], fields)
    other_model, other_pk, other_fields = meanwhile()
    cache, broker = processes[1]
    propagate([(other_model, other_pk)], cache, broker, other_fields)
    first.finish()


def test_a_record_renamed_while_another_process_brings_it_in_arrives_renamed(
    processes: list[Process], world: BoardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Carol becomes a card's assignee (she is not on the board yet) and is renamed meanwhile."""
    card = Card.objects.get(title="Fix login")
    card.assignee = world.carol
    card.save(update_fields=["assignee"])
    carol = str(world.carol.pk)

    def rename() -> Change:
        User.objects.filter(pk=world.carol.pk).update(username="carol-renamed")
        return User, carol, {(User, carol): ["username"]}

    _race(monkeypatch, processes, (Card, str(card.pk), {(Card, str(card.pk)): ["assignee"]}), rename)
    records = _records(processes[0][0], str(world.board_a.pk))
    assert records[("Card", str(card.pk))]["assignee"] == world.carol.pk
    assert records[("BoardUser", carol)]["username"] == "carol-renamed"


def test_a_card_created_in_a_column_another_process_brings_in_is_listed(
    processes: list[Process], world: BoardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column is created; a card is created in it before the column reaches the cache."""
    column = Column.objects.create(board=world.board_a, title="Later", position=5)
    created: list[Card] = []

    def add_card() -> Change:
        created.append(Card.objects.create(column=column, title="Soon", position=0))
        return Card, str(created[0].pk), {}

    _race(monkeypatch, processes, (Column, str(column.pk), {}), add_card)
    records = _records(processes[0][0], str(world.board_a.pk))
    assert records[("Column", str(column.pk))]["cards"] == [created[0].pk]
    assert records[("Card", str(created[0].pk))]["title"] == "Soon"
