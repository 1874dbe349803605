"""Resume with ``since``: a client that missed creates, updates and deletes receives exactly those."""

from collections.abc import Callable
from typing import Any

from board.models import Card, Reminder
from chat.models import Message

from rxgraphql.capture import wait_propagated
from tests.support.live import LiveClient, Watcher, deleted_keys, find_record, record_keys
from tests.support.rebuild import CHAT_TREE, subscription_document
from tests.support.world import BoardWorld, board_expected, make_room, room_expected

ClientFactory = Callable[[], LiveClient]


CHAT_RESUMABLE = subscription_document(CHAT_TREE, "chatRoomChannel", {"roomId": "ID!", "since": "String"})


def _watch_room(client: LiveClient, room_id: int, since: str | None = None) -> Watcher:
    variables = {"roomId": str(room_id), **({"since": since} if since else {})}
    return Watcher(client.aio, client.subscribe(CHAT_RESUMABLE, variables), CHAT_TREE, "ChatRoom", room_id)


def test_resume_receives_only_what_it_missed(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    room = make_room("resume", world.alice, world.bob)
    kept = Message.objects.create(room=room, author=world.alice, text="kept")
    edited = Message.objects.create(room=room, author=world.bob, text="before")
    doomed = Message.objects.create(room=room, author=world.bob, text="doomed")
    client = ws_client().connect(world.token(world.alice))
    first = _watch_room(client, room.pk)
    first.ready()
    first.stop()

    edited.text = "after"
    edited.save()  # update
    doomed_id = doomed.pk
    doomed.delete()  # delete: the room's message list changes too
    added = Message.objects.create(room=room, author=world.alice, text="added")  # create
    assert wait_propagated(10)  # every missed change is in the cache before the client comes back

    resumed = _watch_room(client, room.pk, since=first.cursor)
    resumed.state.records = dict(first.state.records)
    events = resumed.ready()
    assert [event["reset"] for event in events] == [False]
    assert record_keys(events[0]) == {
        ("Message", str(edited.pk)),
        ("Message", str(added.pk)),
        ("ChatRoom", str(room.pk)),
    }
    assert deleted_keys(events[0]) == {("Message", str(doomed_id))}
    assert ("Message", str(kept.pk)) not in record_keys(events[0])
    assert resumed.tree() == room_expected(room.pk)


def test_a_channel_with_per_user_records_resumes_incrementally(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """Changes that say whose each record is are served since the cursor (rxgraphql/user_resume.py)."""
    world = board_world
    card = Card.objects.get(title="Ship")
    mine = Reminder.objects.create(card=card, owner=world.alice, text="mine")
    theirs = Reminder.objects.create(card=card, owner=world.bob, text="theirs")
    client = ws_client().connect(world.token(world.alice))
    first = client.watch_board(world.board_a.pk)
    first.ready()
    first.stop()
    card.title = "Shipped"
    card.save()
    mine.text = "mine, edited"
    mine.save()
    assert wait_propagated(10)
    resumed = client.resume_board(first)
    events = resumed.ready()
    assert events[0]["reset"] is False
    assert record_keys(events[0]) == {("Card", str(card.pk)), ("Reminder", str(mine.pk))}
    shipped = find_record(events[0], "Card", card.pk)
    assert shipped is not None
    assert shipped["reminders"] == [str(mine.pk)]  # never bob's id
    assert resumed.tree() == mine_only(board_expected(world.board_a.pk), world.alice.pk)
    assert ("Reminder", str(theirs.pk)) not in resumed.state.records


def test_a_per_user_resume_falls_back_to_a_full_snapshot_when_owners_are_unknown(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """Another user's record changed, or a per-user record was deleted: whose it was is not kept."""
    world = board_world
    card = Card.objects.get(title="Ship")
    mine = Reminder.objects.create(card=card, owner=world.alice, text="mine")
    theirs = Reminder.objects.create(card=card, owner=world.bob, text="theirs")
    client = ws_client().connect(world.token(world.alice))
    first = client.watch_board(world.board_a.pk)
    first.ready()
    first.stop()
    theirs.text = "theirs, edited"
    theirs.save()
    mine.delete()
    assert wait_propagated(10)
    resumed = client.resume_board(first)
    events = resumed.ready()
    assert events[0]["reset"] is True
    assert all(r["__typename"] != "Reminder" for e in events for r in e["records"])
    assert resumed.tree() == mine_only(board_expected(world.board_a.pk), world.alice.pk)


def mine_only(expected: Any, owner: int) -> Any:
    """The normalized serializer output without the reminders of others."""
    for column in expected["columns"]:
        for card in column["cards"]:
            card["reminders"] = [r for r in card["reminders"] if r["owner"] == str(owner)]
    return expected


def test_a_cursor_of_another_epoch_gets_a_full_snapshot(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    watcher = client.watch_board(world.board_a.pk, since="0123456789ab.3")
    events = watcher.ready()
    assert events[0]["reset"] is True
    assert watcher.tree() == board_expected(world.board_a.pk)
