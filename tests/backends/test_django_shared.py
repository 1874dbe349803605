"""The shared backends under Django: live subscriptions, the cost of saves nobody watches, expiry, checks."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from board.models import Card, Column
from django.core.management import call_command
from pymongo import monitoring
from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql import backends
from rxgraphql.capture import start_capture, wait_propagated
from rxgraphql.checks import check_backends
from tests.support.live import LiveClient
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until
from tests.support.world import BoardWorld, board_expected

pytestmark = pytest.mark.timeout(120)


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def shared(
    transactional_db: None, settings: SettingsWrapper, redis_server: RedisServer, mongo_url: str
) -> Iterator[CommandCounter]:
    """RXGRAPHQL points at the test Redis and MongoDB; the process's backends are rebuilt from it."""
    redis_server.client().flushall()
    database = f"rxtest_{uuid.uuid4().hex[:8]}"
    settings.RXGRAPHQL = {
        **settings.RXGRAPHQL,
        "REDIS_URL": redis_server.url,
        "MONGO_URL": mongo_url,
        "MONGO_DATABASE": database,
        "CACHE_TTL": 0.5,
    }
    wait_propagated(10)
    backends.close()
    start_capture()  # with trigger capture this process propagates the outbox, as a server would
    counter = CommandCounter()
    cache: Any = backends.get_cache()
    cache.store.options["event_listeners"] = [counter]
    try:
        yield counter
    finally:
        wait_propagated(10)
        cache.store.sync_db().client.drop_database(database)
        backends.close()


def test_saves_nobody_watches_cost_no_redis_command_and_no_mongo_operation(
    shared: CommandCounter, redis_server: RedisServer, board_world: BoardWorld
) -> None:
    card = Card.objects.filter(column__board=board_world.board_a).first()
    assert card is not None
    card.title = "warm-up"
    card.save()  # the first save of the process loads its view of the active anchors
    assert wait_propagated(10)
    before = redis_server.command_calls()
    shared.commands.clear()
    for number in range(50):
        card.title = f"burst {number}"
        card.save()
        Column.objects.filter(pk=card.column_id).first().save()  # type: ignore[union-attr]
    assert wait_propagated(10)
    after = redis_server.command_calls()
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    delta = {name: calls for name, calls in delta.items() if calls and name != "info"}
    assert delta == {}, f"Redis commands during a burst of unwatched saves: {delta}"
    assert shared.commands == [], f"MongoDB operations during a burst of unwatched saves: {shared.commands}"


def test_live_subscription_on_the_shared_backends(
    shared: CommandCounter,
    redis_server: RedisServer,
    board_world: BoardWorld,
    ws_client: Callable[[], LiveClient],
) -> None:
    board = board_world.board_a
    watcher = ws_client().connect(board_world.token(board_world.alice)).watch_board(board.pk)
    watcher.ready()
    assert watcher.tree() == board_expected(board.pk)
    before = redis_server.command_calls().get("publish", 0)
    card = Card.objects.filter(column__board=board).first()
    assert card is not None
    card.title = "watched"
    card.save()
    watcher.until(lambda event: any(r.get("title") == "watched" for r in event["records"]))
    assert watcher.tree() == board_expected(board.pk)
    assert redis_server.command_calls().get("publish", 0) > before, "a watched save is published"
    Card.objects.create(column=card.column, title="new one", position=9)
    watcher.until(lambda event: any(r.get("title") == "new one" for r in event["records"]))
    card.delete()
    watcher.until(lambda event: bool(event["deleted"]))
    assert watcher.tree() == board_expected(board.pk)


def test_expire_command_honours_the_ttl_and_really_frees(
    shared: CommandCounter,
    board_world: BoardWorld,
    ws_client: Callable[[], LiveClient],
) -> None:
    board = board_world.board_a
    client = ws_client().connect(board_world.token(board_world.alice))
    watcher = client.watch_board(board.pk)
    watcher.ready()
    out = io.StringIO()
    call_command("expire_rxgraphql_cache", "--dry-run", stdout=out)
    assert "0 anchors would free" in out.getvalue(), "a watched anchor is never expired"
    cache: Any = backends.get_cache()
    channel = "board.channels.BoardChannel"
    assert cache.store.count(channel, str(board.pk)) > 0
    # Once the subscriber leaves, the TTL (0.5 s) runs: the server's own timer or the command frees it.
    watcher.stop()
    out = io.StringIO()
    call_command("expire_rxgraphql_cache", "--dry-run", stdout=out)
    listed = out.getvalue()
    if "would free" in listed and "0 anchors would free" not in listed:
        assert f"{channel} {board.pk}:" in listed
        assert cache.store.count(channel, str(board.pk)) > 0, "a dry run frees nothing"
    out = io.StringIO()

    def freed() -> bool:
        call_command("expire_rxgraphql_cache", stdout=out)
        return cache.store.count(channel, str(board.pk)) == 0

    wait_until(freed, "the TTL runs out and expire_rxgraphql_cache frees the anchor")
    assert str(board.pk) not in cache.active_anchors(channel)


def test_checks(
    settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    settings.RXGRAPHQL = {"REDIS_URL": redis_server.url}
    assert [m.id for m in check_backends()] == ["rxgraphql.E001"]
    settings.RXGRAPHQL = {"REDIS_URL": "redis://127.0.0.1:1/0", "MONGO_URL": "mongodb://127.0.0.1:1/"}
    assert [m.id for m in check_backends()] == ["rxgraphql.E003", "rxgraphql.E003"]
    settings.RXGRAPHQL = {"REDIS_URL": "http://nope", "MONGO_URL": "nope://"}
    assert [m.id for m in check_backends()] == ["rxgraphql.E002", "rxgraphql.E002"]
    settings.RXGRAPHQL = {}
    assert check_backends() == []
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert [m.id for m in check_backends()] == ["rxgraphql.W001"]
    monkeypatch.delenv("WEB_CONCURRENCY")
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer"}}
    assert [m.id for m in check_backends()] == ["rxgraphql.W001"]


def test_migrate_clears_the_shared_cache(
    shared: CommandCounter,
    redis_server: RedisServer,
    board_world: BoardWorld,
    ws_client: Callable[[], LiveClient],
) -> None:
    from django.core.management.sql import emit_post_migrate_signal

    board = board_world.board_a
    watcher = ws_client().connect(board_world.token(board_world.alice)).watch_board(board.pk)
    watcher.ready()
    cache: Any = backends.get_cache()
    channel = "board.channels.BoardChannel"
    before = watcher.cursor.rpartition(".")[0]
    assert cache.store.records(channel).count_documents({"e": before}) > 0
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    # The connected client is caught up with a reset of the rebuilt anchor, without reconnecting.
    events = watcher.until(lambda event: bool(event["reset"]), timeout=15)
    assert events[-1]["ready"]
    assert watcher.cursor.rpartition(".")[0] != before, "rebuilt with a new epoch"
    assert cache.store.records(channel).count_documents({"e": before}) == 0, "the former records are gone"
    assert watcher.tree() == board_expected(board.pk)
