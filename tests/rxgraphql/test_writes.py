"""Declared writes in one transaction: a refusal answers the status of its ErrorCode and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from board.channels import BoardChannel
from board.models import Card, Column, Comment
from board.serializers import BoardSummarySerializer, CardSerializer
from django.core.exceptions import ImproperlyConfigured

from rxgraphql import CREATE, DELETE, SAVE
from rxgraphql.errors import ErrorCode, WriteRefused
from rxgraphql.writes import WritableLayer, WriteOutcome, perform_write, writable_edges, writable_layers
from tests.support.world import BoardWorld

CARDS = "board.serializers.CardSerializer"
COMMENTS = "board.serializers.CommentSerializer"


def _cards() -> WritableLayer:
    return BoardChannel._meta.writable[CARDS]


def test_the_declared_layers_and_their_operations() -> None:
    writable = BoardChannel._meta.writable
    assert {key: sorted(op.value for op in w.operations) for key, w in writable.items()} == {
        CARDS: ["create", "delete", "save"],
        COMMENTS: ["create", "delete"],
    }


def test_children_written_by_id_leave_read_only_ones_out() -> None:
    names = {edge.field_name for edge in writable_edges(_cards().layer)}
    assert names == {"assignee", "labels"}  # creator, comments and reminders are read_only


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ([CardSerializer], "must be a dict"),
        ({BoardSummarySerializer: [SAVE]}, "is not part of Meta.state"),
        ({CardSerializer: []}, "must be SAVE, CREATE or DELETE"),
        ({CardSerializer: ["save"]}, "must be SAVE, CREATE or DELETE"),
    ],
)
def test_a_wrong_declaration_is_refused(declared: Any, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        writable_layers("Cards", BoardChannel._meta.layers, declared)


def test_nothing_declared_writes_nothing() -> None:
    assert writable_layers("X", BoardChannel._meta.layers, None) == {}


def test_an_outcome_of_a_refusal_has_the_status_of_its_code() -> None:
    refused = WriteOutcome.refused(
        WriteRefused("Invalid data", ErrorCode.BAD_REQUEST, errors={"title": ["x"]})
    )
    assert (refused.code, refused.ok, refused.message, refused.errors) == (
        400,
        False,
        "Invalid data",
        {"title": ["x"]},
    )
    assert WriteOutcome(200).ok


@pytest.fixture
def world(board_world: BoardWorld) -> BoardWorld:
    return board_world


def _write(
    world: BoardWorld, user: Any, operation: Any, pk: Any, data: dict[str, Any], layer: str = CARDS
) -> Any:
    channel = BoardChannel(user, board_id=world.board_a.pk)
    writable = BoardChannel._meta.writable[layer]
    return perform_write(channel, writable, operation, [str(world.board_a.pk)], pk, data)


def test_a_save_answers_the_record_as_the_stream_shows_it(world: BoardWorld) -> None:
    card = Card.objects.get(title="Write spec")
    outcome = _write(world, world.bob, SAVE, card.pk, {"title": "Spec v2"})
    assert (outcome.code, outcome.message) == (200, "")
    assert outcome.record["__typename"] == "Card"
    assert outcome.record["title"] == "Spec v2"
    assert Card.objects.get(pk=card.pk).title == "Spec v2"


def test_an_undeclared_operation_is_forbidden(world: BoardWorld) -> None:
    comment = Comment.objects.filter(card__title="Write spec").first()
    assert comment is not None
    outcome = _write(world, world.alice, SAVE, comment.pk, {"text": "edited"}, layer=COMMENTS)
    assert (outcome.code, outcome.message) == (ErrorCode.FORBIDDEN.status, "save is not declared writable")


def test_invalid_data_is_a_bad_request_with_the_field_errors(world: BoardWorld) -> None:
    card = Card.objects.get(title="Write spec")
    outcome = _write(world, world.bob, SAVE, card.pk, {"title": ""})
    assert outcome.code == ErrorCode.BAD_REQUEST.status
    assert set(outcome.errors) == {"title"}
    assert Card.objects.get(pk=card.pk).title == "Write spec"


@pytest.mark.parametrize("pk", ["not-a-number", 999_999])
def test_a_record_outside_the_anchor_is_not_found(world: BoardWorld, pk: Any) -> None:
    outcome = _write(world, world.bob, SAVE, pk, {"title": "x"})
    assert (outcome.code, outcome.message) == (404, "No such record in this channel")


def test_a_record_of_another_anchor_is_not_found_and_unchanged(world: BoardWorld) -> None:
    other = Card.objects.get(title="Idea 1")  # board B
    assert _write(world, world.alice, DELETE, other.pk, {}).code == 404
    assert Card.objects.filter(pk=other.pk).exists()


def test_a_permission_hook_that_says_no_is_forbidden(world: BoardWorld) -> None:
    card = Card.objects.get(title="Ship")
    outcome = _write(world, world.bob, DELETE, card.pk, {})  # only the owner deletes cards
    assert (outcome.code, outcome.message) == (403, "Not allowed to delete this record")
    assert Card.objects.filter(pk=card.pk).exists()
    assert _write(world, world.alice, DELETE, card.pk, {}).code == 200
    assert not Card.objects.filter(pk=card.pk).exists()


def test_a_write_that_moves_the_record_out_of_the_anchor_is_rolled_back(world: BoardWorld) -> None:
    card = Card.objects.get(title="Write spec")
    elsewhere = Column.objects.get(title="Ideas")  # board B

    class Allowing(BoardChannel):
        class Meta:
            abstract = True

        def can_save(self, instance: Any, data: dict[str, Any]) -> bool:
            return True

    channel = Allowing(world.alice, board_id=world.board_a.pk)
    outcome = perform_write(
        channel, _cards(), SAVE, [str(world.board_a.pk)], card.pk, {"column": elsewhere.pk}
    )
    assert (outcome.code, outcome.message) == (403, "This write would take the record out of the channel")
    assert Card.objects.get(pk=card.pk).column_id != elsewhere.pk


def test_a_child_the_channel_does_not_show_needs_can_reference(world: BoardWorld) -> None:
    todo = Column.objects.get(title="Todo")
    outcome = _write(
        world, world.bob, CREATE, None, {"title": "New", "column": todo.pk, "assignee": world.carol.pk}
    )
    assert (outcome.code, outcome.message) == (403, "'assignee' may only point to what this channel shows")
    assert not Card.objects.filter(title="New").exists()
