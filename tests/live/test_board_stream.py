"""Board subscription end to end: snapshot, then one patch per committed write.

Every write here goes through the plain ORM in the test thread; the live server must
notice it, patch every subscriber, and the state rebuilt by the reference rebuilder must
equal what ``BoardSerializer`` says the board is after each step.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from board.models import Board, BoardSettings, Card, Column, Comment, Label
from django.db import transaction

from tests.support.live import (
    Event,
    LiveClient,
    Watcher,
    deleted_keys,
    find_record,
    record_keys,
)
from tests.support.rebuild import BOARD_TREE, RecordKey, tree_keys
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]


class RolledBackError(Exception):
    """Raised inside ``transaction.atomic()`` to roll the block back on purpose."""


def expect_patch(
    watcher: Watcher,
    *,
    upserted: Iterable[RecordKey] = (),
    deleted: Iterable[RecordKey] = (),
) -> Event:
    """Await the next event: a live patch holding these records and refs, converging."""
    event = watcher.next()
    assert event["reset"] is False
    assert event["ready"] is True
    missing_records = set(upserted) - record_keys(event)
    assert not missing_records, f"patch lacks records {missing_records}: {event}"
    missing_refs = set(deleted) - deleted_keys(event)
    assert not missing_refs, f"patch lacks deleted refs {missing_refs}: {event}"
    assert watcher.tree() == board_expected(int(str(watcher.root_id)))
    return event


def field_of(event: Event, type_name: str, record_id: object, name: str) -> Any:
    """One field of a record the event must contain."""
    record = find_record(event, type_name, record_id)
    assert record is not None, f"{type_name}:{record_id} missing from {event}"
    return record[name]


def subtree_keys(card: Card) -> set[RecordKey]:
    """The card and its comments, as record keys."""
    keys = {("Card", str(card.pk))}
    keys |= {("Comment", str(pk)) for pk in card.comments.values_list("pk", flat=True)}
    return keys


@pytest.mark.parametrize(
    ("username", "board_attr"),
    [("alice", "board_a"), ("bob", "board_a"), ("alice", "board_b"), ("dave", "board_b")],
)
def test_snapshot_then_ready(
    board_world: BoardWorld, ws_client: ClientFactory, username: str, board_attr: str
) -> None:
    """The snapshot starts with reset, ends with ready and holds the whole board."""
    board: Board = getattr(board_world, board_attr)
    user = getattr(board_world, username)
    watcher = ws_client().connect(board_world.token(user)).watch_board(board.pk)

    events = watcher.ready()

    assert events[0]["reset"] is True
    assert [event["reset"] for event in events[1:]] == [False] * (len(events) - 1)
    assert [event["ready"] for event in events] == [False] * (len(events) - 1) + [True]
    assert all(isinstance(event["cursor"], str) and event["cursor"] for event in events)
    expected = board_expected(board.pk)
    delivered = set().union(*(record_keys(event) for event in events))
    assert tree_keys(expected, BOARD_TREE, "Board") <= delivered
    assert watcher.tree() == expected


def test_large_board_snapshot_converges(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """A board with hundreds of records still streams one reset, then ready, then patches.

    Big enough to need several snapshot events with a batch size of a few hundred; the
    contract checked is the same whatever the batching.
    """
    board = board_world.board_b
    columns = Column.objects.bulk_create(
        Column(board=board, title=f"bulk {n}", position=10 + n) for n in range(12)
    )
    Card.objects.bulk_create(
        Card(column=columns[n % len(columns)], title=f"bulk card {n}", position=n) for n in range(700)
    )
    watcher = ws_client().connect(board_world.token(board_world.dave)).watch_board(board.pk)

    events = watcher.ready()

    assert events[0]["reset"] is True
    assert [event["reset"] for event in events[1:]] == [False] * (len(events) - 1)
    assert [event["ready"] for event in events] == [False] * (len(events) - 1) + [True]
    assert watcher.tree() == board_expected(board.pk)
    card = Card.objects.get(title="bulk card 699")
    card.title = "bulk card last"
    card.save()
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "title") == "bulk card last"


def test_snapshot_of_other_board_has_none_of_its_records(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """Board B's snapshot names no record that exists only on board A."""
    watcher = ws_client().connect(board_world.token(board_world.alice))
    events = watcher.watch_board(board_world.board_b.pk).ready()
    only_a = tree_keys(board_expected(board_world.board_a.pk), BOARD_TREE, "Board") - tree_keys(
        board_expected(board_world.board_b.pk), BOARD_TREE, "Board"
    )
    delivered = set().union(*(record_keys(event) for event in events))
    assert delivered & only_a == set()


def test_patches_for_every_change_at_every_depth(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """Create, update and delete at each level each give one converging patch."""
    world = board_world
    board = world.board_a
    watcher = ws_client().connect(world.token(world.alice)).watch_board(board.pk)
    watcher.ready()

    board.title = "Roadmap 2"
    board.save()
    event = expect_patch(watcher, upserted=[("Board", str(board.pk))])
    assert field_of(event, "Board", board.pk, "title") == "Roadmap 2"

    settings = BoardSettings.objects.get(board=board)
    settings.theme = BoardSettings.Theme.LIGHT
    settings.save()
    event = expect_patch(watcher, upserted=[("BoardSettings", str(settings.pk))])
    assert find_record(event, "BoardSettings", settings.pk) == {
        "__typename": "BoardSettings",
        "id": str(settings.pk),
        "theme": "light",
    }

    label = Label.objects.create(board=board, name="chore", color="#000000")
    event = expect_patch(watcher, upserted=[("Label", str(label.pk)), ("Board", str(board.pk))])
    assert str(label.pk) in field_of(event, "Board", board.pk, "labels")

    label.color = "#ffffff"
    label.save()
    event = expect_patch(watcher, upserted=[("Label", str(label.pk))])
    assert field_of(event, "Label", label.pk, "color") == "#ffffff"

    column = Column.objects.create(board=board, title="Review", position=5)
    expect_patch(watcher, upserted=[("Column", str(column.pk)), ("Board", str(board.pk))])

    column.title = "In review"
    column.save()
    event = expect_patch(watcher, upserted=[("Column", str(column.pk))])
    assert field_of(event, "Column", column.pk, "title") == "In review"

    with transaction.atomic():
        card = Card.objects.create(
            column=column,
            title="New card",
            estimate=Decimal("2.25"),
            due_at=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC),
            assignee=world.bob,
            created_by=world.alice,
        )
        card.labels.add(label)
    event = expect_patch(watcher, upserted=[("Card", str(card.pk)), ("Column", str(column.pk))])
    card_record = find_record(event, "Card", card.pk)
    assert card_record is not None
    assert card_record["estimate"] == "2.25"
    assert card_record["labels"] == [str(label.pk)]
    assert card_record["creator"] == str(world.alice.pk)
    assert card_record["column"] == str(column.pk)

    card.description = "Details"
    card.estimate = None
    card.due_at = None
    card.save()
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "estimate") is None

    comment = Comment.objects.create(card=card, author=world.bob, text="Looks good")
    event = expect_patch(watcher, upserted=[("Comment", str(comment.pk)), ("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "commentCount") == 1

    comment.text = "Looks great"
    comment.save()
    event = expect_patch(watcher, upserted=[("Comment", str(comment.pk))])
    assert field_of(event, "Comment", comment.pk, "text") == "Looks great"

    owner = world.alice
    owner.username = "alice-renamed"
    owner.save()
    event = expect_patch(watcher, upserted=[("BoardUser", str(owner.pk))])
    assert field_of(event, "BoardUser", owner.pk, "username") == "alice-renamed"

    card.assignee = None
    card.save()
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "assignee") is None

    comment_pk = comment.pk
    comment.delete()
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))], deleted=[("Comment", str(comment_pk))])
    assert field_of(event, "Card", card.pk, "commentCount") == 0

    spec_card = Card.objects.get(title="Write spec")
    bug = Label.objects.get(board=board, name="bug")
    bug_pk = bug.pk
    bug.delete()  # also drops the label from the cards carrying it
    event = expect_patch(
        watcher,
        upserted=[("Card", str(spec_card.pk)), ("Board", str(board.pk))],
        deleted=[("Label", str(bug_pk))],
    )
    assert str(bug_pk) not in field_of(event, "Card", spec_card.pk, "labels")

    ship = Card.objects.get(title="Ship")
    doomed = subtree_keys(ship)
    ship.delete()
    expect_patch(watcher, deleted=doomed)

    todo = Column.objects.get(board=board, title="Todo")
    doomed = {("Column", str(todo.pk))}
    for todo_card in todo.cards.all():
        doomed |= subtree_keys(todo_card)
    assert len(doomed) >= 4  # the column, two cards and at least two comments
    todo.delete()
    expect_patch(watcher, upserted=[("Board", str(board.pk))], deleted=doomed)

    settings_pk = settings.pk
    settings.delete()
    event = expect_patch(
        watcher,
        upserted=[("Board", str(board.pk))],
        deleted=[("BoardSettings", str(settings_pk))],
    )
    assert field_of(event, "Board", board.pk, "settings") is None

    new_settings = BoardSettings.objects.create(board=board, theme=BoardSettings.Theme.DARK)
    expect_patch(
        watcher,
        upserted=[("BoardSettings", str(new_settings.pk)), ("Board", str(board.pk))],
    )

    first = board.columns.first()
    assert first is not None
    first.position = 99  # moves it last: the board's column order changes
    first.save()
    event = expect_patch(watcher, upserted=[("Column", str(first.pk)), ("Board", str(board.pk))])
    assert field_of(event, "Board", board.pk, "columns")[-1] == str(first.pk)


def test_owner_rename_reaches_every_board(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """A user shared by two boards is patched in both streams."""
    client = ws_client().connect(board_world.token(board_world.alice))
    watch_a = client.watch_board(board_world.board_a.pk)
    watch_b = client.watch_board(board_world.board_b.pk)
    watch_a.ready()
    watch_b.ready()

    board_world.alice.username = "alice-everywhere"
    board_world.alice.save()

    for watcher in (watch_a, watch_b):
        event = expect_patch(watcher, upserted=[("BoardUser", str(board_world.alice.pk))])
        record = find_record(event, "BoardUser", board_world.alice.pk)
        assert record == {
            "__typename": "BoardUser",
            "id": str(board_world.alice.pk),
            "username": "alice-everywhere",
        }


def test_card_moved_between_boards(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """The old board deletes the card's subtree, the new board receives it whole."""
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    watch_a = client.watch_board(world.board_a.pk)
    watch_b = client.watch_board(world.board_b.pk)
    watch_a.ready()
    watch_b.ready()
    card = Card.objects.get(title="Write spec")
    moved = subtree_keys(card)
    assert len(moved) == 3
    target = Column.objects.get(board=world.board_b, title="Backlog")

    with transaction.atomic():
        card.labels.clear()  # labels belong to board A
        card.column = target
        card.save()

    event_a = expect_patch(watch_a, deleted=moved)
    assert record_keys(event_a) & moved == set()
    expect_patch(watch_b, upserted=moved | {("Column", str(target.pk))})
    assert deleted_keys(watch_b.events[-1]) & moved == set()

    # Back again through the project's moveCard mutation, over the same socket.
    home = Column.objects.get(board=world.board_a, title="Doing")
    payload = client.execute(
        "mutation Move($card: ID!, $column: ID!) { moveCard(cardId: $card, columnId: $column, position: 0) }",
        {"card": str(card.pk), "column": str(home.pk)},
    )
    assert payload == {"data": {"moveCard": True}}
    expect_patch(watch_b, deleted=moved)
    expect_patch(watch_a, upserted=moved | {("Column", str(home.pk))})


def test_label_m2m_add_and_remove(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """Adding and removing labels, from either side of the relation, patches the card."""
    world = board_world
    watcher = ws_client().connect(world.token(world.bob)).watch_board(world.board_a.pk)
    watcher.ready()
    card = Card.objects.get(title="Fix login")
    ux = Label.objects.get(board=world.board_a, name="ux")
    bug = Label.objects.get(board=world.board_a, name="bug")

    card.labels.add(ux)
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "labels") == [str(ux.pk)]

    bug.cards.add(card)  # the reverse side of the same relation
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "labels") == [str(bug.pk), str(ux.pk)]

    card.labels.remove(ux)
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "labels") == [str(bug.pk)]

    card.labels.clear()
    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "labels") == []


def test_three_saves_in_one_transaction_give_one_patch(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """Patches follow commits: one transaction, one patch with the final values."""
    world = board_world
    watcher = ws_client().connect(world.token(world.alice)).watch_board(world.board_a.pk)
    watcher.ready()
    card = Card.objects.get(title="Fix login")

    with transaction.atomic():
        for title in ("one", "two", "three"):
            card.title = title
            card.save()

    event = expect_patch(watcher, upserted=[("Card", str(card.pk))])
    assert field_of(event, "Card", card.pk, "title") == "three"

    # An unrelated write: its patch must be the very next event.
    label = Label.objects.get(board=world.board_a, name="ux")
    label.name = "ux-design"
    label.save()
    event = expect_patch(watcher, upserted=[("Label", str(label.pk))])
    assert ("Card", str(card.pk)) not in record_keys(event)


def test_rolled_back_transaction_gives_no_patch(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """Nothing of a rolled-back transaction reaches subscribers."""
    world = board_world
    watcher = ws_client().connect(world.token(world.alice)).watch_board(world.board_a.pk)
    watcher.ready()
    card = Card.objects.get(title="Fix login")

    def write_then_roll_back() -> None:
        with transaction.atomic():
            card.title = "never committed"
            card.save()
            Comment.objects.create(card=card, author=world.alice, text="never committed")
            raise RolledBackError

    with pytest.raises(RolledBackError):
        write_then_roll_back()

    board = Board.objects.get(pk=world.board_a.pk)
    board.title = "after the rollback"
    board.save()
    event = expect_patch(watcher, upserted=[("Board", str(board.pk))])
    assert record_keys(event) == {("Board", str(board.pk))}
    assert event["deleted"] == []


def test_resume_with_since_converges(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """Resubscribing with the last cursor, keeping the old state, catches up on missed writes."""
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    first = client.watch_board(world.board_a.pk)
    first.ready()
    first.stop()

    card = Card.objects.get(title="Ship")
    card.title = "Shipped"
    card.save()
    Comment.objects.filter(card__title="Write spec").order_by("pk")[0].delete()
    Column.objects.create(board=world.board_a, title="Later", position=7)

    resumed = client.resume_board(first)
    board = Board.objects.get(pk=world.board_a.pk)
    board.title = "resume marker"
    board.save()

    def has_marker(event: Event) -> bool:
        record = find_record(event, "Board", board.pk)
        return record is not None and record["title"] == "resume marker"

    resumed.until(has_marker)
    assert resumed.tree() == board_expected(board.pk)
