"""Declared writes over a real websocket: what is allowed lands and streams; every other write is refused
and leaves the database as it was."""

from collections.abc import Callable
from typing import Any

import pytest
from board.models import Card, Column, Comment, Label

from tests.support.live import LiveClient, find_record
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]

CARD = "{ ok code message errors record { id title column labels } }"
NOTE = "{ ok code message errors record { id text } }"
SAVE = (
    "mutation($b: ID!, $id: ID!, $data: CardInput!) "
    f"{{ r: boardChannelSaveCard(boardId: $b, id: $id, data: $data) {CARD} }}"
)
CREATE = (
    f"mutation($b: ID!, $data: CardInput!) {{ r: boardChannelCreateCard(boardId: $b, data: $data) {CARD} }}"
)
DELETE = f"mutation($b: ID!, $id: ID!) {{ r: boardChannelDeleteCard(boardId: $b, id: $id) {CARD} }}"
COMMENT = (
    "mutation($b: ID!, $data: CommentInput!) "
    f"{{ r: boardChannelCreateComment(boardId: $b, data: $data) {NOTE} }}"
)
UNCOMMENT = f"mutation($b: ID!, $id: ID!) {{ r: boardChannelDeleteComment(boardId: $b, id: $id) {NOTE} }}"


def _write(client: LiveClient, document: str, **variables: Any) -> dict[str, Any]:
    payload = client.execute(document, variables)
    assert "errors" not in payload, payload
    result: dict[str, Any] = payload["data"]["r"]
    return result


@pytest.fixture
def bob(board_world: BoardWorld, ws_client: ClientFactory) -> LiveClient:
    """A member of board A (not its owner)."""
    return ws_client().connect(board_world.token(board_world.bob))


def test_allowed_save_lands_and_streams(board_world: BoardWorld, bob: LiveClient) -> None:
    world = board_world
    watcher = bob.watch_board(world.board_a.pk)
    watcher.ready()
    card = Card.objects.get(title="Fix login")
    result = _write(bob, SAVE, b=str(world.board_a.pk), id=str(card.pk), data={"title": "Fix login for real"})
    assert (result["ok"], result["code"]) == (True, 200)
    assert result["record"]["title"] == "Fix login for real"
    card.refresh_from_db()
    assert card.title == "Fix login for real"
    record = find_record(watcher.next(), "Card", card.pk)
    assert record is not None
    assert record["title"] == "Fix login for real"
    assert watcher.tree() == board_expected(world.board_a.pk)


def test_invalid_data_is_a_400_with_field_errors(board_world: BoardWorld, bob: LiveClient) -> None:
    card = Card.objects.get(title="Write spec")
    result = _write(bob, SAVE, b=str(board_world.board_a.pk), id=str(card.pk), data={"assignee": "999999"})
    assert result["code"] == 400
    assert "assignee" in result["errors"]  # the id was looked up in the database, off the event loop
    card.refresh_from_db()
    assert card.assignee_id == board_world.bob.pk


def test_target_outside_the_anchor_is_a_404(board_world: BoardWorld, bob: LiveClient) -> None:
    other = Card.objects.get(title="Idea 1")
    result = _write(bob, SAVE, b=str(board_world.board_a.pk), id=str(other.pk), data={"title": "hijacked"})
    assert result["code"] == 404
    assert _write(bob, DELETE, b=str(board_world.board_a.pk), id=str(other.pk))["code"] == 404
    other.refresh_from_db()
    assert other.title == "Idea 1"


def test_foreign_key_moving_the_record_out_is_refused(board_world: BoardWorld, bob: LiveClient) -> None:
    card = Card.objects.get(title="Ship")
    elsewhere = Column.objects.get(title="Ideas")
    result = _write(
        bob, SAVE, b=str(board_world.board_a.pk), id=str(card.pk), data={"column": str(elsewhere.pk)}
    )
    assert result["code"] == 403
    card.refresh_from_db()
    assert card.column.board_id == board_world.board_a.pk


def test_can_save_and_can_create_decide(board_world: BoardWorld, bob: LiveClient) -> None:
    world = board_world
    card = Card.objects.get(title="Ship")
    foreign_label = Label.objects.get(name="later")
    refused = _write(
        bob, SAVE, b=str(world.board_a.pk), id=str(card.pk), data={"labels": [str(foreign_label.pk)]}
    )
    assert refused["code"] == 403
    assert list(card.labels.values_list("name", flat=True)) == ["ux"]

    spec = Card.objects.get(title="Write spec")
    forged = _write(
        bob,
        COMMENT,
        b=str(world.board_a.pk),
        data={"text": "as alice", "author": str(world.alice.pk), "card": str(spec.pk)},
    )
    assert forged["code"] == 403
    assert not Comment.objects.filter(text="as alice").exists()


def test_create_inside_the_anchor_and_not_outside(board_world: BoardWorld, bob: LiveClient) -> None:
    world = board_world
    watcher = bob.watch_board(world.board_a.pk)
    watcher.ready()
    todo = Column.objects.get(title="Todo")
    created = _write(bob, CREATE, b=str(world.board_a.pk), data={"title": "New card", "column": str(todo.pk)})
    assert created["code"] == 200
    card_id = created["record"]["id"]
    assert find_record(watcher.next(), "Card", card_id) is not None

    ideas = Column.objects.get(title="Ideas")
    outside = _write(
        bob, CREATE, b=str(world.board_a.pk), data={"title": "Smuggled", "column": str(ideas.pk)}
    )
    assert outside["code"] == 403
    assert not Card.objects.filter(title="Smuggled").exists()

    missing = _write(bob, CREATE, b=str(world.board_a.pk), data={"column": str(todo.pk)})
    assert missing["code"] == 400
    assert "title" in missing["errors"]


def test_can_delete_decides(board_world: BoardWorld, bob: LiveClient, ws_client: ClientFactory) -> None:
    world = board_world
    board = str(world.board_a.pk)
    mine = Comment.objects.get(text="Reviewing")
    theirs = Comment.objects.get(text="First draft is up")
    assert _write(bob, UNCOMMENT, b=board, id=str(theirs.pk))["code"] == 403
    assert _write(bob, UNCOMMENT, b=board, id=str(mine.pk))["code"] == 200
    assert Comment.objects.filter(pk=theirs.pk).exists()
    assert not Comment.objects.filter(pk=mine.pk).exists()

    card = Card.objects.get(title="Fix login")
    assert _write(bob, DELETE, b=board, id=str(card.pk))["code"] == 403  # only the owner deletes cards
    owner = ws_client().connect(world.token(world.alice))
    assert _write(owner, DELETE, b=board, id=str(card.pk))["code"] == 200
    assert not Card.objects.filter(pk=card.pk).exists()


def test_another_users_token_is_refused(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    carol = ws_client().connect(world.token(world.carol))
    card = Card.objects.get(title="Fix login")
    result = _write(carol, SAVE, b=str(world.board_a.pk), id=str(card.pk), data={"title": "carol was here"})
    assert result["code"] == 403
    card.refresh_from_db()
    assert card.title == "Fix login"


def test_undeclared_writes_do_not_exist(board_world: BoardWorld, bob: LiveClient) -> None:
    label = Label.objects.get(name="bug")
    document = (
        "mutation($b: ID!, $id: ID!) "
        '{ boardChannelSaveLabel(boardId: $b, id: $id, data: {name: "x"}) { ok } }'
    )
    with pytest.raises(Exception, match="boardChannelSaveLabel"):
        bob.execute(document, {"b": str(board_world.board_a.pk), "id": str(label.pk)})
    label.refresh_from_db()
    assert label.name == "bug"
