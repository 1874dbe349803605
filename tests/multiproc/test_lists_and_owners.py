"""List channels and per-user records across processes (Redis + MongoDB): writes made in another process
reach subscribers on two servers, ``auto_update`` included, and user-keyed records reach only their owner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from board.models import Board, Card

from tests.live.test_list_channels import SUBSCRIPTION, ListWatcher, expected
from tests.multiproc.conftest import MONGO_KIND, Cluster, Server
from tests.support.aio import LoopThread
from tests.support.live import LiveClient, deleted_keys, find_record
from tests.support.world import BoardWorld

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def clients(aio: LoopThread) -> Iterator[list[LiveClient]]:
    made: list[LiveClient] = []
    yield made
    for client in made:
        with contextlib.suppress(Exception):
            client.close()


def _client(clients: list[LiveClient], aio: LoopThread, server: Server, token: str) -> LiveClient:
    client = LiveClient(aio, server.ws_url).connect(token)
    clients.append(client)
    return client


@pytest.mark.parametrize("mongo", [MONGO_KIND])
def test_list_channels_follow_writes_and_membership_from_another_process(
    mongo: str, cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]
) -> None:
    world = board_world
    first, second = cluster.server(), cluster.server()
    carol = ListWatcher(aio, _client(clients, aio, first, world.token(world.carol)).subscribe(SUBSCRIPTION))
    alice = ListWatcher(aio, _client(clients, aio, second, world.token(world.alice)).subscribe(SUBSCRIPTION))
    carol.ready()
    alice.ready()
    assert (carol.anchors, len(alice.anchors)) == ([], 2)

    # carol is made a member of board A by another process: A joins her list on the first server
    cluster.run_orm(
        "from board.models import Board; from django.contrib.auth.models import User\n"
        f"Board.objects.get(pk={world.board_a.pk}).members.add(User.objects.get(pk={world.carol.pk}))"
    )
    carol.until(lambda e: e["anchors"] is not None)
    assert carol.anchors == [str(world.board_a.pk)]
    assert carol.nested() == expected(carol.anchors)

    # a rename in another process reaches both lists
    cluster.run_orm(
        "from board.models import Board\n"
        f"b = Board.objects.get(pk={world.board_a.pk}); b.title = 'Renamed elsewhere'; b.save()"
    )
    for watcher in (carol, alice):
        watcher.until(lambda e: any(r.get("title") == "Renamed elsewhere" for r in e["records"]))
        assert watcher.nested() == expected(watcher.anchors)

    # deleted in another process: removed from both lists
    cluster.run_orm(f"from board.models import Board; Board.objects.filter(pk={world.board_a.pk}).delete()")
    carol.until(lambda e: e["anchors"] is not None)
    alice.until(lambda e: e["anchors"] is not None)
    assert (carol.anchors, alice.anchors) == ([], [str(world.board_b.pk)])
    assert carol.records == {}
    assert alice.nested() == expected(alice.anchors)
    assert not Board.objects.filter(pk=world.board_a.pk).exists()


@pytest.mark.parametrize("mongo", [MONGO_KIND])
def test_user_keyed_records_reach_only_their_owner_across_processes(
    mongo: str, cluster: Cluster, board_world: BoardWorld, aio: LoopThread, clients: list[LiveClient]
) -> None:
    world = board_world
    board = world.board_a.pk
    card = Card.objects.filter(column__board_id=board).order_by("pk").first()
    assert card is not None
    first, second = cluster.server(), cluster.server()
    alice = _client(clients, aio, first, world.token(world.alice)).watch_board(board)
    bob = _client(clients, aio, second, world.token(world.bob)).watch_board(board)
    alice.ready()
    bob.ready()

    cluster.run_orm(
        "from board.models import Reminder\n"
        f"Reminder.objects.create(card_id={card.pk}, owner_id={world.bob.pk}, text='for bob')"
    )
    event = bob.until(lambda e: any(r["__typename"] == "Reminder" for r in e["records"]))[-1]
    reminder = next(r for r in event["records"] if r["__typename"] == "Reminder")
    key = ("Reminder", str(reminder["id"]))
    # alice's stream carries the card's new child list without bob's reminder
    cluster.run_orm(
        f"from board.models import Card\nc = Card.objects.get(pk={card.pk}); c.title = 'marker'; c.save()"
    )

    def marked(event: dict[str, object]) -> bool:
        found = find_record(event, "Card", card.pk)
        return found is not None and found["title"] == "marker"

    for watcher in (alice, bob):
        watcher.until(marked)
    assert all(key not in {(r["__typename"], str(r["id"])) for r in e["records"]} for e in alice.events)
    alice_card = alice.state.records[("Card", str(card.pk))]
    assert str(reminder["id"]) not in [str(i) for i in alice_card["reminders"]]

    # the reminder changes hands in another process: deleted for bob, arrives for alice
    cluster.run_orm(
        "from board.models import Reminder\nfrom rxgraphql import touch\n"
        f"mine = Reminder.objects.filter(pk={reminder['id']})\n"
        f"mine.update(owner_id={world.alice.pk}); touch(mine)"
    )
    bob.until(lambda e: key in deleted_keys(e))
    alice.until(lambda e: find_record(e, "Reminder", reminder["id"]) is not None)
    assert key not in bob.state.records
    assert alice.state.records[key]["text"] == "for bob"
