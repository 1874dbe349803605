"""What a subscriber must never see, and how bad input is refused without harm.

A board's stream must carry nothing of another board; a bad token, a denied permission
and broken documents must each be refused the way the protocol says, while other
subscriptions on the same server go on receiving patches.
"""

from collections.abc import Callable
from typing import Any

import pytest
from board.models import Board, BoardSettings, Card, Column, Comment, Label

from tests.support.gql_ws import Message, ServerClosedError
from tests.support.live import Event, LiveClient, Watcher, deleted_keys, find_record, record_keys
from tests.support.rebuild import BOARD_SUBSCRIPTION, BOARD_TREE, RecordKey, tree_keys
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]


def rename_board(board_id: int, title: str) -> None:
    """Commit a new board title (a write whose patch is easy to recognise)."""
    board = Board.objects.get(pk=board_id)
    board.title = title
    board.save()


def await_title(watcher: Watcher, title: str) -> list[Event]:
    """Apply events until the watched board carries ``title``."""
    board_id = watcher.root_id

    def has_title(event: Event) -> bool:
        record = find_record(event, "Board", board_id)
        return record is not None and record["title"] == title

    return watcher.until(has_title)


def test_subscriber_never_receives_another_boards_records(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """Writes to board B, even ones touching shared users, never leak into A's stream."""
    world = board_world
    a, b = world.board_a.pk, world.board_b.pk
    watcher = ws_client().connect(world.token(world.bob)).watch_board(a)
    events = watcher.ready()
    keys_a = tree_keys(board_expected(a), BOARD_TREE, "Board")
    keys_b = tree_keys(board_expected(b), BOARD_TREE, "Board")

    def note() -> None:
        keys_a.update(tree_keys(board_expected(a), BOARD_TREE, "Board"))
        keys_b.update(tree_keys(board_expected(b), BOARD_TREE, "Board"))

    ideas = Column.objects.get(board_id=b, title="Ideas")
    card_b = Card.objects.create(column=ideas, title="B only", assignee=world.dave)
    note()
    Comment.objects.create(card=card_b, author=world.dave, text="B comment")
    note()
    label_b = Label.objects.create(board_id=b, name="b-label", color="#123456")
    card_b.labels.add(label_b)
    note()
    BoardSettings.objects.create(board_id=b, theme="dark")
    note()
    rename_board(b, "B renamed")
    note()
    card_b.position = 3
    card_b.save()
    note()
    world.dave.username = "dave-renamed"  # a user seen only on board B
    world.dave.save()
    note()
    todo = Column.objects.get(board_id=a, title="Todo")
    Card.objects.create(column=todo, title="A card", created_by=world.bob)
    note()
    Column.objects.get(board_id=b, title="Backlog").delete()
    note()

    rename_board(a, "isolation marker")
    events += await_title(watcher, "isolation marker")

    only_b: set[RecordKey] = keys_b - keys_a
    assert ("Board", str(b)) in only_b
    assert ("BoardUser", str(world.dave.pk)) in only_b
    seen = set().union(*(record_keys(event) | deleted_keys(event) for event in events))
    assert seen & only_b == set()
    assert ("Card", str(Card.objects.get(title="A card").pk)) in seen
    assert watcher.tree() == board_expected(a)


def test_bad_token_closes_with_4403(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    """A token that matches no user closes the socket with code 4403."""
    client = ws_client()
    with pytest.raises(ServerClosedError) as closed:
        client.connect("0123456789abcdef0123456789abcdef01234567")
    assert closed.value.code == 4403


def assert_denied(watcher: Watcher) -> None:
    """One ``next`` with errors and null data, then ``complete``: no records at all."""
    first = watcher.message()
    assert first.kind == "next", first
    assert first.payload["data"] is None
    assert first.payload["errors"]
    assert watcher.message() == Message("complete")


@pytest.mark.parametrize("who", ["carol", "anonymous", "dave"])
def test_denied_permission(board_world: BoardWorld, ws_client: ClientFactory, who: str) -> None:
    """Outsiders (including anonymous users and members of another board) are refused."""
    world = board_world
    token = None if who == "anonymous" else world.token(getattr(world, who))
    client = ws_client().connect(token)
    assert_denied(client.watch_board(world.board_a.pk))
    # The connection stays usable: dave may watch his own board.
    if who == "dave":
        watcher = client.watch_board(world.board_b.pk)
        watcher.ready()
        assert watcher.tree() == board_expected(world.board_b.pk)


def graphql_refusal(client: LiveClient, query: str, variables: dict[str, Any]) -> Any:
    """Run a broken operation; return its errors whether sent as ``error`` or ``next``."""
    sub = client.subscribe(query, variables)
    message = client.aio.run(sub.next_message())
    if message.kind == "error":
        assert isinstance(message.payload, list)
        assert message.payload
        return message.payload
    assert message.kind == "next", message
    assert message.payload.get("data") is None
    assert message.payload["errors"]
    assert client.aio.run(sub.next_message()) == Message("complete")
    return message.payload["errors"]


def test_bad_documents_are_refused_and_others_keep_streaming(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """Malformed, unknown-field and wrongly typed operations fail alone."""
    world = board_world
    a = world.board_a.pk
    watcher = ws_client().connect(world.token(world.alice)).watch_board(a)
    watcher.ready()
    bad = ws_client().connect(world.token(world.bob))

    errors = graphql_refusal(bad, "subscription { boardChannel(boardId: ", {})
    assert "Syntax" in str(errors)
    errors = graphql_refusal(bad, f'subscription {{ boardChannel(boardId: "{a}") {{ nope }} }}', {})
    assert "nope" in str(errors)
    errors = graphql_refusal(bad, BOARD_SUBSCRIPTION, {"boardId": {"not": "an id"}})
    assert "boardId" in str(errors)
    errors = graphql_refusal(
        bad,
        "subscription S($boardId: Boolean!) { boardChannel(boardId: $boardId) { cursor } }",
        {"boardId": True},
    )
    assert "boardId" in str(errors)

    rename_board(a, "still streaming")
    await_title(watcher, "still streaming")
    assert watcher.tree() == board_expected(a)

    # The refused client's connection still works for a valid subscription.
    recovered = bad.watch_board(a)
    recovered.ready()
    assert recovered.tree() == board_expected(a)
