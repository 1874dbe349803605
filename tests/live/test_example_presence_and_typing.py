"""The example's runtime state on the live server: who views a board, and "typing" ended by a message.

Both travel as runtime state of the subscription (``BoardPresenceChannel.RuntimeState.viewers``,
``ChatRoomChannel.RuntimeState.typing``), kept up to date by channel-layer events between subscribers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.gql_ws import Subscription
from tests.support.live import LiveClient
from tests.support.world import BoardWorld, make_room

ClientFactory = Callable[[], LiveClient]

BOARD = """
subscription($board: ID!) {
  boardPresenceChannel(boardId: $board) { ready records { __typename } runtime { viewers } }
}
"""
ROOM = """
subscription($room: ID!) {
  chatRoomChannel(roomId: $room) { ready records { __typename ... on Message { text } } runtime { typing } }
}
"""
TYPING = "mutation($room: ID!) { chatRoomChannelTyping(roomId: $room) }"
POST = "mutation($room: ID!, $text: String!) { chatRoomChannelPost(roomId: $room, text: $text) { id } }"


def runtime_until(client: LiveClient, subscription: Subscription, field: str, expected: Any) -> None:
    """Read the subscription's events until its runtime ``field`` equals ``expected``."""
    seen = []
    while True:
        event = client.aio.run(subscription.next_payload())["data"]
        runtime = next(iter(event.values()))["runtime"]
        if runtime is not None:
            seen.append(runtime[field])
            if runtime[field] == expected:
                return
        assert len(seen) < 20, seen


def test_viewers_of_a_board_come_and_go(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    carol = ws_client().connect(world.token(world.carol))
    refused = carol.subscribe(BOARD, {"board": str(world.board_a.pk)})
    denied = carol.aio.run(refused.next_payload())  # not a member: no data, and nobody sees her
    assert denied["data"] is None
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    board = {"board": str(world.board_a.pk)}
    alice = ws_client().connect(world.token(world.alice))
    alice_board = alice.subscribe(BOARD, board)
    runtime_until(alice, alice_board, "viewers", ["alice"])

    bob = ws_client().connect(world.token(world.bob))
    bob_board = bob.subscribe(BOARD, board)
    runtime_until(bob, bob_board, "viewers", ["alice", "bob"])  # alice answered bob's hello
    runtime_until(alice, alice_board, "viewers", ["alice", "bob"])

    second_tab = ws_client().connect(world.token(world.bob))
    second = second_tab.subscribe(BOARD, board)
    runtime_until(second_tab, second, "viewers", ["alice", "bob"])  # bob is listed once
    second_tab.aio.run(second.complete())
    bob.close()
    runtime_until(alice, alice_board, "viewers", ["alice"])  # both of bob's subscriptions ended


@pytest.mark.usefixtures("rx_server")
def test_a_posted_message_ends_its_authors_typing_notice(
    board_world: BoardWorld, ws_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the notice's timer far away, only the message can clear it."""
    monkeypatch.setattr("chat.channels.TYPING_SECONDS", 3600.0)
    world = board_world
    room = {"room": str(make_room("posting", world.alice, world.bob).pk)}
    alice = ws_client().connect(world.token(world.alice))
    alice_room = alice.subscribe(ROOM, room)
    runtime_until(alice, alice_room, "typing", [])
    bob = ws_client().connect(world.token(world.bob))
    bob.execute(TYPING, room)
    runtime_until(alice, alice_room, "typing", ["bob"])
    posted = bob.execute(POST, {**room, "text": "here it is"})
    assert posted.get("errors") is None, posted
    runtime_until(alice, alice_room, "typing", [])
