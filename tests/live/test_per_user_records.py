"""Per-user records (``Meta.user_key``): a seeded random mix over two users and two boards.

Reminders are private notes on cards. Each subscriber must end with the serializer's state minus the
reminders of others, and must never receive another user's reminder nor its id in a card's list.
"""

import random
from collections.abc import Callable
from typing import Any

import pytest
from board.models import Board, Card, Column, Reminder
from django.contrib.auth.models import User
from django.db import transaction

from tests.support.live import Event, LiveClient, Watcher, find_record
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]
OPERATIONS = 120
NESTED = "query($b: ID!) { boardChannel(boardId: $b) { columns { cards { reminders { id owner } } } } }"


def mine(expected: Any, user: User) -> Any:
    """The normalized serializer output as ``user`` may see it."""
    for column in expected["columns"]:
        for card in column["cards"]:
            card["reminders"] = [r for r in card["reminders"] if r["owner"] == str(user.pk)]
    return expected


def assert_private(watcher: Watcher, event: Event, user: User) -> None:
    for record in event["records"]:
        if record["__typename"] == "Reminder":
            assert record["owner"] == str(user.pk), f"{user.username} received {record}"
    for (type_name, _), record in watcher.state.records.items():
        if type_name == "Card":
            for reminder_id in record["reminders"]:
                held = watcher.state.records.get(("Reminder", str(reminder_id)))
                assert held is not None, (
                    f"{user.username} sees the id of reminder {reminder_id}: "
                    + "\n".join(watcher.history(("Reminder", str(reminder_id))))
                    + "\n".join(watcher.history((type_name, str(record["id"]))))
                )
                assert held["owner"] == str(user.pk)


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_reminders_reach_only_their_owner(
    board_world: BoardWorld, ws_client: ClientFactory, seed: int
) -> None:
    world = board_world
    rng = random.Random(seed)
    a, b = world.board_a, world.board_b
    b.members.add(world.bob)  # bob and alice both see both boards
    people = [world.alice, world.bob]
    watchers = {
        (user.pk, board.pk): ws_client().connect(world.token(user)).watch_board(board.pk)
        for user in people
        for board in (a, b)
    }
    for watcher in watchers.values():
        watcher.ready()

    for _ in range(OPERATIONS):
        cards = list(Card.objects.filter(column__board__in=[a, b]))
        reminders = list(Reminder.objects.all())
        roll = rng.random()
        if roll < 0.35 or not reminders:
            Reminder.objects.create(
                card=rng.choice(cards), owner=rng.choice(people), text=f"r{rng.random():.5f}"
            )
        elif roll < 0.55:
            reminder = rng.choice(reminders)
            reminder.text = f"t{rng.random():.5f}"
            reminder.save()
        elif roll < 0.7:
            reminder = rng.choice(reminders)
            reminder.owner = rng.choice(people)  # changes hands
            reminder.save()
        elif roll < 0.8:
            rng.choice(reminders).delete()
        elif roll < 0.9:
            card = rng.choice(cards)
            card.column = rng.choice(list(Column.objects.filter(board__in=[a, b])))
            card.save()  # moves with its reminders, maybe to the other board
        else:
            with transaction.atomic():
                reminder = rng.choice(reminders)
                reminder.owner = rng.choice(people)
                reminder.text = "in a transaction"
                reminder.save()

    marker = f"private-{seed}"
    for board in Board.objects.filter(pk__in=[a.pk, b.pk]):
        board.title = marker
        board.save()
    for (user_pk, board_pk), watcher in watchers.items():
        user = User.objects.get(pk=user_pk)

        def marked(event: Event, board_pk: int = board_pk) -> bool:
            record = find_record(event, "Board", board_pk)
            return record is not None and record["title"] == marker

        watcher.until(marked, timeout=20)
        for event in watcher.events:
            assert_private(watcher, event, user)
        assert watcher.tree() == mine(board_expected(board_pk), user)
    assert Reminder.objects.values("owner").distinct().count() == 2


def test_nested_query_hides_other_users_reminders(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    card = Card.objects.filter(column__board=world.board_a).first()
    assert card is not None
    Reminder.objects.create(card=card, owner=world.alice, text="alice only")
    Reminder.objects.create(card=card, owner=world.bob, text="bob only")
    bob = ws_client().connect(world.token(world.bob))
    payload = bob.execute(NESTED, {"b": str(world.board_a.pk)})
    seen = [
        r
        for column in payload["data"]["boardChannel"]["columns"]
        for c in column["cards"]
        for r in c["reminders"]
    ]
    assert [r["owner"] for r in seen] == [str(world.bob.pk)]
