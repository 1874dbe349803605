"""Revocation on open sockets: a user who loses access stops receiving, and the socket's writes check its
credentials as they stand now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from board.models import Board, Card
from django.db import connection
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.authtoken.models import Token

from tests.support.gql_ws import Message
from tests.support.live import LiveClient, Watcher, find_record
from tests.support.world import BoardWorld

ClientFactory = Callable[[], LiveClient]
RENAME = 'mutation($b: ID!) { boardChannelRename(boardId: $b, title: "taken over") }'
RENAME_CARD = 'mutation($id: ID!) { renameCard(cardId: $id, title: "taken over") }'
SAVE = (
    "mutation($b: ID!, $id: ID!, $data: CardInput!) "
    "{ r: boardChannelSaveCard(boardId: $b, id: $id, data: $data) { ok code } }"
)


def _watch(client: LiveClient, board: Board) -> Watcher:
    watcher = client.watch_board(board.pk)
    watcher.ready()
    return watcher


def _forbidden_then_complete(watcher: Watcher, timeout: float = 10.0) -> None:
    """The subscription ends with a FORBIDDEN error and ``complete``, with no patch before them."""
    message = watcher.message(timeout)
    assert message.kind == "next", message
    assert message.payload["data"] is None, message  # no patch came before the refusal
    assert message.payload["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert watcher.message().kind == "complete"


def _nothing_more(watcher: Watcher) -> list[Message]:
    """What is left in the operation's queue (the client routes every message it reads into it)."""
    left: list[Message] = []
    while not watcher.sub.queue.empty():
        left.append(watcher.sub.queue.get_nowait())
    return left


def _title_patch_reaches(witness: Watcher, card: Card, title: str) -> None:
    card.title = title
    card.save()
    witness.until(lambda event: (find_record(event, "Card", card.pk) or {}).get("title") == title)


def test_a_member_removed_from_the_board_stops_receiving_at_once(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    bob = _watch(ws_client().connect(world.token(world.bob)), world.board_a)
    alice = _watch(ws_client().connect(world.token(world.alice)), world.board_a)
    world.board_a.members.remove(world.bob)  # Meta.recheck_on names the membership table
    _forbidden_then_complete(bob)
    _title_patch_reaches(alice, Card.objects.get(title="Ship"), "Shipped")
    assert _nothing_more(bob) == []


def test_a_deleted_token_stops_the_stream_and_the_sockets_writes(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    bob_socket = ws_client().connect(world.token(world.bob))
    bob = _watch(bob_socket, world.board_a)
    alice = _watch(ws_client().connect(world.token(world.alice)), world.board_a)
    Token.objects.filter(user=world.bob).delete()
    _forbidden_then_complete(bob)
    card = Card.objects.get(title="Ship")
    refused = bob_socket.execute(
        SAVE, {"b": str(world.board_a.pk), "id": str(card.pk), "data": {"title": "x"}}
    )
    assert refused["data"]["r"] == {"ok": False, "code": 403}
    action = bob_socket.execute(RENAME, {"b": str(world.board_a.pk)})
    assert action["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    own = bob_socket.execute(RENAME_CARD, {"id": str(card.pk)})  # a mutation of the project's own
    assert own["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    card.refresh_from_db()
    assert card.title == "Ship"
    world.board_a.refresh_from_db()
    assert world.board_a.title == "Roadmap"
    _title_patch_reaches(alice, card, "Shipped")
    assert _nothing_more(bob) == []


def test_access_lost_without_a_signal_is_found_within_the_interval(
    board_world: BoardWorld, ws_client: ClientFactory, settings: SettingsWrapper
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "PERMISSION_RECHECK_INTERVAL": 0.5}
    world = board_world
    bob = _watch(ws_client().connect(world.token(world.bob)), world.board_a)
    # Raw SQL sends no signal: as if another process had made the change.
    table = Board.members.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE user_id = %s", [world.bob.pk])
    _forbidden_then_complete(bob)


def test_a_change_of_the_anchor_row_is_held_until_the_permission_is_checked(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    # Alice owns board B and is no member of it: handing it to carol takes her access away.
    alice = _watch(ws_client().connect(world.token(world.alice)), world.board_b)
    dave = _watch(ws_client().connect(world.token(world.dave)), world.board_b)
    world.board_b.owner = world.carol
    world.board_b.save()
    _forbidden_then_complete(alice)  # the patch with the new owner never reached her
    events = dave.until(lambda event: find_record(event, "Board", world.board_b.pk) is not None)
    owner: Any = find_record(events[-1], "Board", world.board_b.pk)
    assert str(owner["owner"]) == str(world.carol.pk)
    assert _nothing_more(alice) == []


def test_a_check_that_keeps_access_releases_the_held_patch(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    bob = _watch(ws_client().connect(world.token(world.bob)), world.board_a)
    world.board_a.title = "Roadmap 2"
    world.board_a.save()
    events = bob.until(lambda event: find_record(event, "Board", world.board_a.pk) is not None)
    board: Any = find_record(events[-1], "Board", world.board_a.pk)
    assert board["title"] == "Roadmap 2"
