"""Action mutations: typed arguments and results, and each refusal a GraphQL error with its code."""

from __future__ import annotations

from typing import Any

import pytest
from board.channels import BoardChannel
from board.models import Column
from django.core.exceptions import PermissionDenied, ValidationError

from rxgraphql.errors import ActionError
from schema_bridge.action_fields import live_channel
from schema_bridge.context import RxContext
from schema_bridge.schema import get_schema
from tests.support.world import BoardWorld

pytestmark = pytest.mark.django_db(transaction=True)


async def _run(user: Any, document: str, variables: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    result = await get_schema().execute(document, variables, context_value=RxContext(user=user))
    return result.data, [error.formatted for error in result.errors or []]


ADD_COLUMN = "mutation($b: ID!, $t: String!) { boardChannelAddColumn(boardId: $b, title: $t) }"
DELETE_COLUMN = "mutation($b: ID!, $c: Int!) { boardChannelDeleteColumn(boardId: $b, columnId: $c) }"
TOTAL = "mutation($b: ID!) { boardChannelTotalEstimate(boardId: $b) }"


async def test_an_action_answers_its_typed_result(board_world: BoardWorld) -> None:
    board = str(board_world.board_a.pk)
    data, errors = await _run(board_world.bob, ADD_COLUMN, {"b": board, "t": "Review"})
    assert errors == []
    column = await Column.objects.aget(title="Review")
    assert data == {"boardChannelAddColumn": column.pk}
    data, _ = await _run(board_world.bob, TOTAL, {"b": board})
    assert data == {"boardChannelTotalEstimate": "4.50"}  # a Decimal travels as text


async def test_an_action_error_keeps_its_message_and_code(board_world: BoardWorld) -> None:
    board = str(board_world.board_a.pk)
    _, errors = await _run(board_world.bob, ADD_COLUMN, {"b": board, "t": "  "})
    assert [(e["message"], e["extensions"]) for e in errors] == [
        ("A column needs a title of at most 100 characters", {"code": "BAD_REQUEST"})
    ]
    _, errors = await _run(board_world.alice, DELETE_COLUMN, {"b": board, "c": 999_999})
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"]


async def test_the_channels_permission_is_checked_at_every_call(board_world: BoardWorld) -> None:
    _, errors = await _run(board_world.carol, ADD_COLUMN, {"b": str(board_world.board_a.pk), "t": "Mine"})
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
    assert not await Column.objects.filter(title="Mine").aexists()


@pytest.mark.parametrize(
    ("raised", "message", "code"),
    [
        (ActionError("Sold out", "OUT_OF_STOCK"), "Sold out", "OUT_OF_STOCK"),
        (PermissionError("not yours"), "not yours", "FORBIDDEN"),
        (PermissionDenied(), "Permission denied", "FORBIDDEN"),
        (ValueError("bad value"), "bad value", "BAD_REQUEST"),
        (ValidationError("invalid"), "['invalid']", "BAD_REQUEST"),
        (ValueError(), "Invalid input", "BAD_REQUEST"),
    ],
)
async def test_refusals_raised_by_an_action_become_codes(
    board_world: BoardWorld, monkeypatch: pytest.MonkeyPatch, raised: Exception, message: str, code: str
) -> None:
    def refuse(self: BoardChannel) -> None:
        raise raised

    monkeypatch.setattr(BoardChannel, "total_estimate", refuse)
    _, errors = await _run(board_world.bob, TOTAL, {"b": str(board_world.board_a.pk)})
    assert [(e["message"], e["extensions"]) for e in errors] == [(message, {"code": code})]


def test_a_live_channel_is_found_by_channel_and_anchor() -> None:
    live = object()
    context = RxContext(user=None, live_channels={(BoardChannel._meta.channel_name, "1"): live})  # type: ignore[arg-type]
    assert live_channel(context, BoardChannel, "1") is live
    assert live_channel(context, BoardChannel, "2") is None
    assert live_channel(object(), BoardChannel, "1") is None
