"""Runtime state and @consumer over a real websocket: initial values, per-subscriber changes, groups."""

from collections.abc import Callable

from channels.layers import get_channel_layer

from tests.support.live import LiveClient
from tests.support.world import BoardWorld, make_room

ClientFactory = Callable[[], LiveClient]

ROOM = """
subscription($room: ID!) {
  chatRoomChannel(roomId: $room) { cursor ready records { __typename } runtime { typing } }
}
"""
TYPING = "mutation($room: ID!) { chatRoomChannelTyping(roomId: $room) }"


def test_initial_runtime_state_then_consumer_driven_changes(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    room = make_room("typing", world.alice, world.bob)
    alice = ws_client().connect(world.token(world.alice))
    bob = ws_client().connect(world.token(world.bob))
    alice_room = alice.subscribe(ROOM, {"room": str(room.pk)})
    bob_room = bob.subscribe(ROOM, {"room": str(room.pk)})
    for subscription in (alice_room, bob_room):
        first = alice.aio.run(subscription.next_payload())["data"]["chatRoomChannel"]
        assert first["runtime"] == {"typing": []}  # initial values come with the snapshot
        assert first["ready"] is True

    # bob's action sends a channel-layer event to the room's group; every subscriber's
    # @consumer adds him to its own runtime state, which reaches that subscriber alone.
    assert bob.execute(TYPING, {"room": str(room.pk)}) == {"data": {"chatRoomChannelTyping": True}}
    for client, subscription in ((alice, alice_room), (bob, bob_room)):
        update = client.aio.run(subscription.next_payload())["data"]["chatRoomChannel"]
        assert update["runtime"] == {"typing": [world.bob.username]}
        assert update["records"] == []
        assert update["cursor"] != ""

    alice.execute(TYPING, {"room": str(room.pk)})
    update = bob.aio.run(bob_room.next_payload())["data"]["chatRoomChannel"]
    assert update["runtime"] == {"typing": sorted([world.alice.username, world.bob.username])}


def test_a_finished_subscription_leaves_its_groups(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    room = make_room("leaving", world.alice, world.bob)
    group = f"chat-room-{room.pk}"
    layer = get_channel_layer()
    alice = ws_client().connect(world.token(world.alice))
    bob = ws_client().connect(world.token(world.bob))
    alice_room = alice.subscribe(ROOM, {"room": str(room.pk)})
    alice.aio.run(alice_room.next_payload())
    gone = bob.subscribe(ROOM, {"room": str(room.pk)})
    bob.aio.run(gone.next_payload())
    assert len(layer.groups.get(group, {})) == 2  # on_connect joined the room's group

    bob.aio.run(gone.complete())
    # One socket's messages are handled in order: once this query is answered, the completed
    # subscription has run on_disconnect and left its groups.
    assert bob.execute("{ me }") == {"data": {"me": world.bob.username}}
    assert len(layer.groups.get(group, {})) == 1

    bob.execute(TYPING, {"room": str(room.pk)})  # a fresh instance: the live one is gone
    update = alice.aio.run(alice_room.next_payload())["data"]["chatRoomChannel"]
    assert update["runtime"] == {"typing": [world.bob.username]}


def test_typing_notice_expires(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    room = make_room("expiry", world.alice, world.bob)
    alice = ws_client().connect(world.token(world.alice))
    alice_room = alice.subscribe(ROOM, {"room": str(room.pk)})
    alice.aio.run(alice_room.next_payload())
    alice.execute(TYPING, {"room": str(room.pk)})
    shown = alice.aio.run(alice_room.next_payload())["data"]["chatRoomChannel"]
    assert shown["runtime"] == {"typing": [world.alice.username]}
    cleared = alice.aio.run(alice_room.next_payload(10.0))["data"]["chatRoomChannel"]
    assert cleared["runtime"] == {"typing": []}
