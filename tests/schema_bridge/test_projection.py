"""The compiled projection renders channel events exactly as executing the document does."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from board.channels import BoardChannel, MyBoardsChannel
from chat.channels import ChatRoomChannel
from graphql import execute, parse

from rxgraphql.propagate import heat_records
from rxgraphql.stream import Event
from schema_bridge.fanout import encode_result, runtime_value
from schema_bridge.projection import Unsupported, compile_event
from schema_bridge.schema import get_schema_index
from tests.support.rebuild import BOARD_SUBSCRIPTION, CHAT_SUBSCRIPTION
from tests.support.world import BoardWorld, make_room

ALIASED = """
subscription Board($boardId: ID!) {
  live: boardChannel(boardId: $boardId) {
    ready c: cursor
    records {
      kind: __typename
      ... on BoardChannelRecord { __typename }
      ... on Card { id title dueAt estimate labels }
      ... cardAgain
      ... on Board { id owner columns }
    }
    deleted { type i: id __typename }
    notifications
  }
}
fragment cardAgain on Card { id assignee position }
"""
LIST = (
    "subscription { myBoardsChannel { anchors ready "
    "records { __typename ... on BoardSummary { id members } } } }"
)


def _executed(document: str, root: dict[str, Any], variables: dict[str, Any]) -> str:
    schema = get_schema_index().schema._schema
    result = execute(schema, parse(document), root_value=root, variable_values=variables)
    assert not inspect.isawaitable(result)
    return encode_result(result)


def _projected(document: str, root: dict[str, Any]) -> str:
    render = compile_event(get_schema_index().schema._schema, parse(document), None)
    assert render is not None
    return render(root)


def _board_records(world: BoardWorld) -> list[dict[str, Any]]:
    heated = heat_records(BoardChannel, str(world.board_a.pk))
    assert heated is not None
    return [record for _, record, _ in heated[1]]


@pytest.mark.parametrize("document", [BOARD_SUBSCRIPTION, ALIASED], ids=["generated", "aliases-fragments"])
def test_board_events_render_the_same(board_world: BoardWorld, document: str) -> None:
    records = _board_records(board_world)
    variables = {"boardId": str(board_world.board_a.pk)}
    roots = [
        Event(cursor="e.3", reset=True, ready=False, records=records).root(),
        Event(cursor="e.4", records=records[:3], deleted=[("Card", "7"), ("Comment", "x")]).root(),
        Event(notifications=[{"kind": "hello", "n": 1.5}]).root(),
    ]
    for root in roots:
        assert _projected(document, root) == _executed(document, root, variables)


def test_runtime_state_and_anchors_render_the_same(board_world: BoardWorld) -> None:
    room = make_room("projection", board_world.alice)
    channel = ChatRoomChannel(board_world.alice, room_id=room.pk)
    channel.runtime_state.typing = ["alice", "bob"]
    heated = heat_records(ChatRoomChannel, str(room.pk))
    assert heated is not None
    records = [r for _, r, _ in heated[1]]
    root = Event(cursor="e.1", reset=True, records=records, runtime=runtime_value(channel)).root()
    assert root["runtime"] == {"typing": ["alice", "bob"]}
    assert _projected(CHAT_SUBSCRIPTION, root) == _executed(CHAT_SUBSCRIPTION, root, {"roomId": str(room.pk)})

    heated = heat_records(MyBoardsChannel, str(board_world.board_a.pk))
    assert heated is not None
    root = Event(records=[r for _, r, _ in heated[1]], anchors=["1", 2]).root()
    assert _projected(LIST, root) == _executed(LIST, root, {})


def test_what_the_projection_cannot_render_is_left_to_the_executor(board_world: BoardWorld) -> None:
    schema = get_schema_index().schema._schema
    with_directive = BOARD_SUBSCRIPTION.replace("cursor", "cursor @include(if: true)", 1)
    assert compile_event(schema, parse(with_directive), None) is None
    render = compile_event(schema, parse(BOARD_SUBSCRIPTION), None)
    assert render is not None
    card = next(r for r in _board_records(board_world) if r["__typename"] == "Card")
    with pytest.raises(Unsupported):  # a null where the schema says non-null: the executor reports it
        render(Event(records=[{**card, "id": None}]).root())
    with pytest.raises(Unsupported):  # not a record of the union
        render(Event(records=[{"__typename": "Nope", "id": 1}]).root())
