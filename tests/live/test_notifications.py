"""Notifications: to an anchor's subscribers, to one user of it, and system messages to everyone."""

from collections.abc import Callable

import pytest
from board.channels import BoardChannel
from django.core.management import CommandError, call_command

from rxgraphql.notices import broadcast_system_message
from tests.support.live import LiveClient
from tests.support.world import BoardWorld, make_room

ClientFactory = Callable[[], LiveClient]


def test_anchor_and_user_notifications(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    alice = ws_client().connect(world.token(world.alice)).watch_board(world.board_a.pk)
    bob = ws_client().connect(world.token(world.bob)).watch_board(world.board_a.pk)
    other = ws_client().connect(world.token(world.alice)).watch_board(world.board_b.pk)
    for watcher in (alice, bob, other):
        watcher.ready()

    BoardChannel.broadcast_notification(world.board_a.pk, {"kind": "hello", "n": 1})
    for watcher in (alice, bob):
        event = watcher.next()
        assert event["notifications"] == [{"kind": "hello", "n": 1}]
        assert event["records"] == []

    BoardChannel.broadcast_notification(world.board_a.pk, {"kind": "only bob"}, user_id=world.bob.pk)
    assert bob.next()["notifications"] == [{"kind": "only bob"}]
    BoardChannel.broadcast_notification(world.board_b.pk, {"kind": "board b"})
    assert other.next()["notifications"] == [{"kind": "board b"}]
    BoardChannel.broadcast_notification(world.board_a.pk, {"kind": "everyone again"})
    # alice's next event is this one: the notice for bob never reached her, board B's neither.
    assert alice.next()["notifications"] == [{"kind": "everyone again"}]
    assert bob.next()["notifications"] == [{"kind": "everyone again"}]


def test_system_messages_reach_every_subscription(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    room = make_room("system", world.alice, world.bob)
    client = ws_client().connect(world.token(world.bob))
    board = client.watch_board(world.board_a.pk)
    chat = client.watch_room(room.pk)
    board.ready()
    chat.ready()
    broadcast_system_message("maintenance", "Back in 5 minutes")
    expected = [{"type": "system", "source": "maintenance", "message": "Back in 5 minutes"}]
    assert board.next()["notifications"] == expected
    assert chat.next()["notifications"] == expected


def test_the_command_refuses_without_a_shared_broker(transactional_db: None) -> None:
    with pytest.raises(CommandError, match="REDIS_URL"):
        call_command("broadcast_system_message", "maintenance", "soon")
