"""Opening a channel for a user: arguments and permission; each refusal a ChannelError with its code."""

from __future__ import annotations

from typing import Any

import pytest
from board.channels import BoardChannel, MyBoardsChannel
from django.contrib.auth.models import AnonymousUser
from graphql import GraphQLError

from rxgraphql.errors import ErrorCode, RxGraphQLError
from schema_bridge.access import ChannelError, list_anchors, list_key, nested_state, open_channel
from tests.support.world import BoardWorld


def test_a_channel_error_is_a_graphql_error_and_a_core_refusal() -> None:
    error = ChannelError("No such anchor", ErrorCode.NOT_FOUND)
    assert isinstance(error, GraphQLError)
    assert isinstance(error, RxGraphQLError)
    assert (error.message, error.code) == ("No such anchor", "NOT_FOUND")
    assert error.formatted == {"message": "No such anchor", "extensions": {"code": "NOT_FOUND"}}
    assert type(error.formatted["extensions"]["code"]) is str


def test_extra_extensions_follow_the_code() -> None:
    error = ChannelError("Too deep", ErrorCode.LIMIT_EXCEEDED, limit="MAX_DEPTH")
    assert error.extensions == {"code": "LIMIT_EXCEEDED", "limit": "MAX_DEPTH"}


def test_a_core_refusal_becomes_a_channel_error_with_its_code() -> None:
    error = ChannelError.of(RxGraphQLError("Sold out", "OUT_OF_STOCK"))
    assert (error.message, error.extensions) == ("Sold out", {"code": "OUT_OF_STOCK"})
    same = ChannelError("x", ErrorCode.FORBIDDEN)
    assert ChannelError.of(same) is same


def test_the_list_key_names_the_arguments_in_a_stable_order() -> None:
    assert list_key({"b": 2, "a": "x"}) == list_key({"a": "x", "b": 2}) == 'list:{"a":"x","b":2}'


async def _refusal(channel_cls: type[Any], user: Any, args: dict[str, Any]) -> ChannelError:
    with pytest.raises(ChannelError) as refused:
        await open_channel(channel_cls, user, args)
    return refused.value


@pytest.mark.django_db(transaction=True)
async def test_a_member_opens_the_board_and_gets_its_anchor(board_world: BoardWorld) -> None:
    channel, anchor = await open_channel(
        BoardChannel, board_world.bob, {"board_id": str(board_world.board_a.pk)}
    )
    assert isinstance(channel, BoardChannel)
    assert (anchor, channel.kwargs, channel.user) == (
        str(board_world.board_a.pk),
        {"board_id": board_world.board_a.pk},
        board_world.bob,
    )


@pytest.mark.django_db(transaction=True)
async def test_an_argument_that_does_not_coerce_is_a_bad_request(board_world: BoardWorld) -> None:
    refused = await _refusal(BoardChannel, board_world.bob, {"board_id": "first"})
    assert (refused.code, refused.message) == (ErrorCode.BAD_REQUEST, "Invalid value for 'board_id'")


@pytest.mark.django_db(transaction=True)
async def test_a_user_without_permission_is_forbidden(board_world: BoardWorld) -> None:
    refused = await _refusal(BoardChannel, board_world.carol, {"board_id": str(board_world.board_a.pk)})
    assert (refused.code, refused.message) == (
        ErrorCode.FORBIDDEN,
        "You do not have permission to watch this channel",
    )
    assert (await _refusal(MyBoardsChannel, AnonymousUser(), {})).code == ErrorCode.FORBIDDEN


@pytest.mark.django_db(transaction=True)
async def test_an_anchor_that_does_not_exist_is_not_found(board_world: BoardWorld) -> None:
    class Open(BoardChannel):
        class Meta:
            abstract = True

        def has_permission(self, user: Any, board_id: int) -> bool:
            return True

        def get_instance_id(self, **kwargs: Any) -> Any:
            return None

    refused = await _refusal(Open, board_world.bob, {"board_id": "999999"})
    assert (refused.code, refused.message) == (ErrorCode.NOT_FOUND, "No such anchor")


@pytest.mark.django_db(transaction=True)
async def test_a_list_channel_is_keyed_by_its_arguments_and_lists_its_anchors(
    board_world: BoardWorld,
) -> None:
    channel, key = await open_channel(MyBoardsChannel, board_world.alice, {})
    assert key == "list:{}"
    listed = await list_anchors(channel)
    assert listed == [str(board_world.board_a.pk), str(board_world.board_b.pk)]  # by title


@pytest.mark.django_db(transaction=True)
async def test_the_nested_state_is_the_serializers_and_none_when_gone(board_world: BoardWorld) -> None:
    state = await nested_state(BoardChannel, str(board_world.board_a.pk), board_world.bob)
    assert state["title"] == "Roadmap"
    assert [column["title"] for column in state["columns"]] == ["Todo", "Doing", "Done"]
    assert await nested_state(BoardChannel, "999999", board_world.bob) is None
