"""Write mutations: their input and result types, and each refusal's code (its ErrorCode's HTTP status)."""

from __future__ import annotations

from typing import Any

import pytest
from board.channels import BoardChannel
from board.models import Card
from graphql import GraphQLInputObjectType, GraphQLObjectType

from rxgraphql.errors import ErrorCode
from schema_bridge.context import RxContext
from schema_bridge.schema import get_schema
from tests.support.world import BoardWorld

SAVE = """mutation($b: ID!, $id: ID!, $title: String) {
  r: boardChannelSaveCard(boardId: $b, id: $id, data: {title: $title}) {
    ok code message errors cursor record { id title }
  }
}"""


async def _save(user: Any, board: Any, card: Any, title: str | None) -> dict[str, Any]:
    result = await get_schema().execute(
        SAVE, {"b": str(board), "id": str(card), "title": title}, context_value=RxContext(user=user)
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    answer: dict[str, Any] = result.data["r"]
    return answer


def test_each_writable_layer_has_its_mutations_and_types() -> None:
    schema = get_schema()._schema
    mutations = set(schema.mutation_type.fields) if schema.mutation_type else set()
    assert {
        "boardChannelSaveCard",
        "boardChannelCreateCard",
        "boardChannelDeleteCard",
        "boardChannelCreateComment",
        "boardChannelDeleteComment",
    } <= mutations
    assert "boardChannelSaveComment" not in mutations
    save = schema.mutation_type.fields["boardChannelSaveCard"]  # type: ignore[union-attr]
    assert list(save.args) == ["boardId", "id", "data"]
    assert "data" not in schema.mutation_type.fields["boardChannelDeleteCard"].args  # type: ignore[union-attr]
    assert "id" not in schema.mutation_type.fields["boardChannelCreateCard"].args  # type: ignore[union-attr]
    data = schema.type_map["CardInput"]
    assert isinstance(data, GraphQLInputObjectType)
    assert "id" not in data.fields  # the primary key is never written
    assert "comments" not in data.fields  # read-only children are left out
    result = schema.type_map["CardWriteResult"]
    assert isinstance(result, GraphQLObjectType)
    assert list(result.fields) == ["ok", "code", "message", "errors", "record", "cursor"]


@pytest.mark.django_db(transaction=True)
async def test_a_save_answers_ok_and_the_record(board_world: BoardWorld) -> None:
    card = await Card.objects.aget(title="Write spec")
    answer = await _save(board_world.bob, board_world.board_a.pk, card.pk, "Spec v2")
    assert answer == {
        "ok": True,
        "code": 200,
        "message": "",
        "errors": None,
        "cursor": None,  # no subscription of the anchor in this process
        "record": {"id": str(card.pk), "title": "Spec v2"},
    }


@pytest.mark.django_db(transaction=True)
async def test_field_errors_are_plain_json(board_world: BoardWorld) -> None:
    card = await Card.objects.aget(title="Write spec")
    answer = await _save(board_world.bob, board_world.board_a.pk, card.pk, "")
    assert (answer["ok"], answer["code"], answer["record"]) == (False, 400, None)
    assert answer["errors"] == {"title": ["This field may not be blank."]}


@pytest.mark.django_db(transaction=True)
async def test_a_refused_channel_answers_the_status_of_its_code(board_world: BoardWorld) -> None:
    card = await Card.objects.aget(title="Write spec")
    forbidden = await _save(board_world.carol, board_world.board_a.pk, card.pk, "x")
    assert (forbidden["ok"], forbidden["code"], forbidden["message"]) == (
        False,
        ErrorCode.FORBIDDEN.status,
        "You do not have permission to watch this channel",
    )
    bad = await _save(board_world.bob, "first", card.pk, "x")
    assert (bad["code"], bad["message"]) == (ErrorCode.BAD_REQUEST.status, "Invalid value for 'board_id'")
    assert (await Card.objects.aget(pk=card.pk)).title == "Write spec"


@pytest.mark.django_db(transaction=True)
async def test_an_anchor_that_does_not_exist_answers_404(
    board_world: BoardWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BoardChannel, "has_permission", lambda self, user, board_id: True)
    monkeypatch.setattr(BoardChannel, "get_instance_id", lambda self, **kwargs: None)
    card = await Card.objects.aget(title="Write spec")
    answer = await _save(board_world.bob, 999_999, card.pk, "x")
    assert (answer["ok"], answer["code"], answer["message"]) == (False, 404, "No such anchor")


def test_drf_errors_become_plain_json_values() -> None:
    from rest_framework.exceptions import ErrorDetail

    from schema_bridge.write_fields import _plain

    detail = {"title": [ErrorDetail("required", code="required")], "labels": {0: (ErrorDetail("x"),)}}
    plain = _plain(detail)
    assert plain == {"title": ["required"], "labels": {"0": ["x"]}}
    assert type(plain["title"][0]) is str
