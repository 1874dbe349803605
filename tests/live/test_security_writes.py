"""Writes over a live socket: their results show what the writer's stream shows, read-only nested fields
are not writable, and a child set by id must be part of the channel or accepted by ``can_reference``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from board.models import Card, Reminder
from django.contrib.auth.models import User

from tests.support.live import LiveClient
from tests.support.world import BoardWorld

ClientFactory = Callable[[], LiveClient]
SAVE = (
    "mutation($b: ID!, $id: ID!, $data: CardInput!) "
    "{ r: boardChannelSaveCard(boardId: $b, id: $id, data: $data) "
    "{ ok code message record { id title assignee reminders } } }"
)


@pytest.fixture
def bob(board_world: BoardWorld, ws_client: ClientFactory) -> LiveClient:
    return ws_client().connect(board_world.token(board_world.bob))


def _save(client: LiveClient, world: BoardWorld, card: Card, data: dict[str, Any]) -> dict[str, Any]:
    payload = client.execute(SAVE, {"b": str(world.board_a.pk), "id": str(card.pk), "data": data})
    assert "errors" not in payload, payload
    result: dict[str, Any] = payload["data"]["r"]
    return result


def test_a_write_result_lists_only_the_writers_own_per_user_children(
    board_world: BoardWorld, bob: LiveClient
) -> None:
    card = Card.objects.get(title="Ship")
    own = Reminder.objects.create(card=card, owner=board_world.bob, text="mine")
    Reminder.objects.create(card=card, owner=board_world.alice, text="alice's")
    result = _save(bob, board_world, card, {"title": "Ship it"})
    assert result["code"] == 200
    assert result["record"]["reminders"] == [str(own.pk)]


def test_read_only_nested_fields_are_not_writable(board_world: BoardWorld, bob: LiveClient) -> None:
    card = Card.objects.get(title="Ship")
    forged = bob.execute(
        SAVE,
        {
            "b": str(board_world.board_a.pk),
            "id": str(card.pk),
            "data": {"creator": str(board_world.alice.pk)},
        },
    )
    assert forged.get("data") is None
    assert "creator" in forged["errors"][0]["message"]  # not a field of CardInput
    card.refresh_from_db()
    assert card.created_by_id == board_world.bob.pk


def test_an_assignee_must_be_on_the_board(board_world: BoardWorld, bob: LiveClient) -> None:
    world = board_world
    card = Card.objects.get(title="Fix login")
    for outsider in (world.carol, world.dave):  # dave is a member of the other board only
        refused = _save(bob, world, card, {"assignee": str(outsider.pk)})
        assert refused["code"] == 403, refused
        card.refresh_from_db()
        assert card.assignee_id is None
    # Shown on the board already (as its owner): no question asked beyond can_save.
    assert _save(bob, world, card, {"assignee": str(world.alice.pk)})["code"] == 200
    # A new member not shown anywhere on the board yet: can_reference accepts them.
    erin = User.objects.create_user("erin")
    world.board_a.members.add(erin)
    accepted = _save(bob, world, card, {"assignee": str(erin.pk)})
    assert (accepted["code"], accepted["record"]["assignee"]) == (200, str(erin.pk))


def test_a_non_member_shown_on_the_board_cannot_be_assigned(board_world: BoardWorld, bob: LiveClient) -> None:
    world = board_world
    card = Card.objects.get(title="Write spec")  # assigned to bob
    Card.objects.filter(title="Ship").update(assignee=world.carol)  # carol is shown, and no member
    refused = _save(bob, world, card, {"assignee": str(world.carol.pk)})
    assert refused["code"] == 403
    card.refresh_from_db()
    assert card.assignee_id == world.bob.pk
