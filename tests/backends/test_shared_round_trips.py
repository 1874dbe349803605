"""On the shared backends one anchor edit costs a constant number of round trips, whatever the lists' length.

A card of a short column and a card of a long one are edited the same way (a save of unknown fields, so the
column is re-rendered and its whole list checked); MongoDB operations and Redis commands are counted.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from board.channels import BoardChannel
from board.models import Board, Card, Column
from django.contrib.auth.models import User

from rxgraphql.backends.base import Broker, RecordCache
from rxgraphql.propagate import heat_records, propagate
from rxgraphql.snapshot_begin import BEGIN
from tests.backends.conftest import make_shared
from tests.backends.test_django_shared import CommandCounter
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def shared(
    transactional_db: None, redis_server: RedisServer, mongo_url: str
) -> Iterator[tuple[RecordCache, Broker, CommandCounter]]:
    redis_server.client().flushall()
    counter = CommandCounter()
    database = f"rxtest_{uuid.uuid4().hex[:8]}"
    options = {"event_listeners": [counter]}
    made: Any = make_shared(redis_server.url, mongo_url, database, client_options=options)
    cache, broker = made
    try:
        yield cache, broker, counter
    finally:
        cache.store.sync_db().client.drop_database(database)
        cache.node.close()
        cache.store.close()


def _board(owner: User, cards: int) -> tuple[Board, Card]:
    board = Board.objects.create(title=f"{cards} cards", owner=owner)
    column = Column.objects.create(board=board, title="Todo", position=0)
    Card.objects.bulk_create(Card(column=column, title=f"card {n}", position=n) for n in range(cards))
    return board, Card.objects.filter(column=column).first()  # type: ignore[return-value]


def _heat(cache: RecordCache, board: Board) -> None:
    heated = heat_records(BoardChannel, str(board.pk))
    assert heated is not None

    async def heat() -> None:
        assert await cache.begin_heat(BoardChannel._meta.channel_name, str(board.pk))
        await cache.finish_heat(BoardChannel._meta.channel_name, str(board.pk), *heated)

    asyncio.run(heat())


class _RoundTrips:
    """Counts the write path's round trips to Redis: single commands and pipelines of its client."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        execute_command, pipeline = client.execute_command, client.pipeline

        def counted_command(*args: Any, **options: Any) -> Any:
            self.count += 1
            return execute_command(*args, **options)

        def counted_pipeline(*args: Any, **options: Any) -> Any:
            pipe = pipeline(*args, **options)
            execute = pipe.execute

            def counted_execute(*args: Any, **options: Any) -> Any:
                self.count += 1
                return execute(*args, **options)

            pipe.execute = counted_execute
            return pipe

        client.execute_command = counted_command
        client.pipeline = counted_pipeline


def _edit_costs(
    cache: RecordCache,
    broker: Broker,
    counter: CommandCounter,
    redis_server: RedisServer,
    card: Card,
    fields: list[str] | None = None,
) -> tuple[Counter[str], dict[str, int], int]:
    card.title = f"{card.title}, edited"
    card.save(update_fields=fields)
    counter.commands.clear()
    trips = _RoundTrips(cache.node.client)  # type: ignore[attr-defined]
    before = redis_server.command_calls()
    changed = None if fields is None else {(Card, str(card.pk)): fields}
    assert propagate([(Card, str(card.pk))], cache, broker, changed) == 1
    after = redis_server.command_calls()
    redis = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    redis.pop("info", None)
    return Counter(counter.commands), redis, trips.count


def test_an_edit_costs_the_same_round_trips_for_a_short_and_a_long_list(
    shared: tuple[RecordCache, Broker, CommandCounter], redis_server: RedisServer
) -> None:
    cache, broker, counter = shared
    owner = User.objects.create(username="owner")
    short_board, short_card = _board(owner, 3)
    long_board, long_card = _board(owner, 60)
    _heat(cache, short_board)
    _heat(cache, long_board)
    _edit_costs(cache, broker, counter, redis_server, short_card)  # loads the view and the scripts
    short = _edit_costs(cache, broker, counter, redis_server, short_card)
    long = _edit_costs(cache, broker, counter, redis_server, long_card)
    assert short == long
    mongo, redis, trips = long
    # Which anchors hold the card (before the lock), the records and their referrers (after it), the bulk
    # write: the column's list names only cards the anchor holds already (its stored list says so).
    assert mongo == Counter({"find": 2, "update": 1}), mongo
    # Two round trips: the lock script (the lock, the anchor's state, its next version), then one pipeline
    # of the committed mark, the patch and the unlock (commands the scripts run count apart in Redis's
    # statistics).
    assert {name: redis.get(name, 0) for name in ("set", "hmget", "hincrby", "evalsha", "publish")} == {
        "set": 1,
        "hmget": 1,
        "hincrby": 1,
        "evalsha": 3,
        "publish": 1,
    }, redis
    assert trips == 2


def test_a_title_save_reads_the_holders_and_the_records_once_and_writes_once(
    shared: tuple[RecordCache, Broker, CommandCounter], redis_server: RedisServer
) -> None:
    cache, broker, counter = shared
    owner = User.objects.create(username="owner")
    board, card = _board(owner, 60)
    _heat(cache, board)
    _edit_costs(cache, broker, counter, redis_server, card, ["title"])  # loads the view and the scripts
    mongo, redis, trips = _edit_costs(cache, broker, counter, redis_server, card, ["title"])
    assert mongo == Counter({"find": 2, "update": 1}), mongo
    assert trips == 2
    assert redis.get("publish") == 1


def test_a_reference_the_stored_record_lacked_is_still_looked_up(
    shared: tuple[RecordCache, Broker, CommandCounter], redis_server: RedisServer
) -> None:
    cache, broker, counter = shared
    owner = User.objects.create(username="owner")
    board, card = _board(owner, 3)
    _heat(cache, board)
    newcomer = User.objects.create(username="newcomer")
    card.assignee = newcomer
    mongo, _, _ = _edit_costs(cache, broker, counter, redis_server, card, ["title", "assignee"])
    # The holders, the records, which of the card's references the anchor lacks (the new assignee), the
    # write bringing the assignee in, and the records of the assignee read again after that write (a
    # change to it committed meanwhile found no holder, see propagate._propagate_locked).
    assert mongo == Counter({"find": 4, "update": 1}), mongo

    async def read() -> set[tuple[str, str]]:
        snap = await cache.snapshot(BoardChannel._meta.channel_name, str(board.pk), None)
        assert snap is not None
        return {(r["__typename"], str(r["id"])) for r in snap.records}

    assert ("BoardUser", str(newcomer.pk)) in asyncio.run(read())


def test_a_title_save_reads_only_the_changed_row_from_postgresql(
    shared: tuple[RecordCache, Broker, CommandCounter], redis_server: RedisServer
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache, broker, counter = shared
    owner = User.objects.create(username="owner")
    board, card = _board(owner, 3)
    _heat(cache, board)
    _edit_costs(cache, broker, counter, redis_server, card, ["title"])
    card.title = "renamed"
    card.save(update_fields=["title"])
    with CaptureQueriesContext(connection) as queries:
        assert propagate([(Card, str(card.pk))], cache, broker, {(Card, str(card.pk)): ["title"]}) == 1
    # (The snapshot's BEGIN travels in the first statement's query: snapshot_begin.)
    sent = [query["sql"].removeprefix(f"{BEGIN}; ") for query in queries.captured_queries]
    selects = [sql for sql in sent if sql.startswith("SELECT")]
    # The card's row (its columns) alone: its method field declares it reads the comments, not the
    # title, and no plan reads the card's column before the lock, since a title edit cannot move it.
    assert len(selects) == 1, selects
    assert '"board_card"' in selects[0]
