"""Per channel: the event type its subscription streams, and the query field answering its nested state."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLObjectType

from schema_bridge.context import RxContext
from schema_bridge.schema import get_schema
from tests.support.world import BoardWorld

BOARD = "query($b: ID!) { boardChannel(boardId: $b) { title columns { title cards { title } } } }"


def _event_fields(name: str) -> list[str]:
    found = get_schema()._schema.type_map[name]
    assert isinstance(found, GraphQLObjectType)
    return list(found.fields)


def test_the_event_of_a_channel_carries_the_stream_fields() -> None:
    assert _event_fields("BoardChannelEvent") == [
        "cursor",
        "reset",
        "ready",
        "records",
        "deleted",
        "notifications",
    ]


def test_a_list_channel_event_adds_the_anchors_and_a_runtime_state_adds_runtime() -> None:
    assert _event_fields("MyBoardsChannelEvent")[-1] == "anchors"
    assert _event_fields("BoardPresenceChannelEvent")[-1] == "runtime"


def test_the_records_are_a_union_of_the_channels_flat_types() -> None:
    union = get_schema()._schema.type_map["BoardChannelRecord"]
    assert {"Board", "Column", "Card", "Comment", "Label"} <= {t.name for t in union.types}  # type: ignore[attr-defined]


def test_the_subscription_takes_the_arguments_and_since() -> None:
    schema = get_schema()._schema
    assert schema.subscription_type is not None
    assert list(schema.subscription_type.fields["boardChannel"].args) == ["boardId", "since"]
    assert list(schema.query_type.fields["boardChannel"].args) == ["boardId"]  # type: ignore[union-attr]


async def _query(user: Any, document: str, variables: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    result = await get_schema().execute(document, variables, context_value=RxContext(user=user))
    return result.data, [error.formatted for error in result.errors or []]


@pytest.mark.django_db(transaction=True)
async def test_the_query_answers_the_nested_state(board_world: BoardWorld) -> None:
    data, errors = await _query(board_world.bob, BOARD, {"b": str(board_world.board_a.pk)})
    assert errors == []
    board = data["boardChannel"]
    assert board["title"] == "Roadmap"
    assert [c["title"] for c in board["columns"]] == ["Todo", "Doing", "Done"]
    assert [card["title"] for card in board["columns"][0]["cards"]] == ["Write spec", "Fix login"]


@pytest.mark.django_db(transaction=True)
async def test_the_query_refuses_with_the_codes_of_the_subscription(board_world: BoardWorld) -> None:
    _, errors = await _query(board_world.carol, BOARD, {"b": str(board_world.board_a.pk)})
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]


@pytest.mark.django_db(transaction=True)
async def test_a_list_channel_query_answers_each_listed_state(board_world: BoardWorld) -> None:
    data, errors = await _query(board_world.alice, "{ myBoardsChannel { title } }", {})
    assert errors == []
    assert data == {"myBoardsChannel": [{"title": "Roadmap"}, {"title": "Side project"}]}


@pytest.mark.django_db(transaction=True)
async def test_the_subscription_over_http_is_refused_as_a_bad_request(board_world: BoardWorld) -> None:
    document = "subscription($b: ID!) { boardChannel(boardId: $b) { cursor } }"
    stream: Any = await get_schema().subscribe(
        document,
        variable_values={"b": str(board_world.board_a.pk)},
        context_value=RxContext(user=board_world.bob),
    )
    results = [result async for result in stream]
    assert [[e.formatted["extensions"]["code"] for e in r.errors or []] for r in results] == [["BAD_REQUEST"]]
    assert "graphql-transport-ws" in results[0].errors[0].message


def test_the_fields_of_a_channel_are_built_from_its_layers() -> None:
    from board.channels import MyBoardsChannel

    from schema_bridge.channel_fields import ChannelFields
    from schema_bridge.layer_types import LayerTypes

    types = LayerTypes()
    fields = ChannelFields(MyBoardsChannel, types)
    assert fields.event_type.__strawberry_definition__.name == "MyBoardsChannelEvent"  # type: ignore[attr-defined]
    assert fields.nested_type is types.nested_type(MyBoardsChannel._meta.layers.root)
    assert set(types.refs) == {layer.type_name for layer in MyBoardsChannel._meta.layers}
