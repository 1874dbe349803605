"""List channels: class checks, ``list_instances()`` answers as ids, deny-by-default visibility, writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from board.channels import BoardChannel, MyBoardsChannel
from board.models import Board, Card, Column
from board.serializers import BoardSerializer, BoardSummarySerializer, CardSerializer
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured

from rxgraphql import SAVE, ContextChannel
from rxgraphql.actions import ActionError
from rxgraphql.lists import anchor_ids
from rxgraphql.writes import perform_write


def test_a_list_channel_is_recognised_from_its_state() -> None:
    assert (MyBoardsChannel._meta.many, MyBoardsChannel._meta.auto_update) == (True, True)
    assert MyBoardsChannel._meta.arguments == ()  # has_permission(self, user) takes none
    assert MyBoardsChannel._meta.layers.root.serializer_class is BoardSummarySerializer
    assert (BoardChannel._meta.many, BoardChannel._meta.auto_update) == (False, False)


def test_a_list_channel_must_say_which_anchors_it_lists() -> None:
    with pytest.raises(ImproperlyConfigured, match="define list_instances"):

        class NoList(ContextChannel):
            class Meta:
                state = BoardSummarySerializer(many=True)


def test_auto_update_needs_a_list_channel() -> None:
    with pytest.raises(ImproperlyConfigured, match="auto_update needs a list channel"):

        class NotAList(ContextChannel):
            class Meta:
                state = BoardSerializer()
                auto_update = True

            def has_permission(self, user: Any, board_id: int) -> bool:
                return True


@pytest.mark.django_db
def test_list_instances_may_answer_a_queryset_instances_or_keys() -> None:
    owner = User.objects.create(username="owner")
    first = Board.objects.create(title="b", owner=owner)
    second = Board.objects.create(title="a", owner=owner)
    assert anchor_ids(Board.objects.order_by("title")) == [str(second.pk), str(first.pk)]
    assert anchor_ids([first, second, first]) == [str(first.pk), str(second.pk)]
    assert anchor_ids((3, "3", 4)) == ["3", "4"]
    with pytest.raises(TypeError, match="list_instances"):
        anchor_ids(None)
    with pytest.raises(TypeError, match="list_instances"):
        anchor_ids("12")


@pytest.mark.django_db
def test_visibility_denies_by_default_and_list_changes_need_a_live_subscription() -> None:
    user = User.objects.create(username="someone")
    board = Board.objects.create(title="mine", owner=user)
    channel = MyBoardsChannel(user)
    assert ContextChannel.is_visible(channel, board) is False
    assert channel.is_visible(board) is True  # the example's own rule
    assert channel.anchor_ids == []
    with pytest.raises(ActionError) as refused:
        asyncio.run(channel.add_instance(board))
    assert refused.value.code == "NOT_SUBSCRIBED"


@pytest.mark.django_db
def test_a_write_may_target_any_listed_anchor_and_nothing_else() -> None:
    owner = User.objects.create(username="owner")
    boards = [Board.objects.create(title=f"b{i}", owner=owner) for i in range(3)]
    columns = [Column.objects.create(board=board, title="c") for board in boards]
    cards = [Card.objects.create(column=column, title="t") for column in columns]

    class Allowing(BoardChannel):
        class Meta:
            abstract = True

        def can_save(self, instance: Any, data: dict[str, Any]) -> bool:
            return True

    channel = Allowing(owner, board_id=boards[0].pk)
    writable = BoardChannel._meta.writable["board.serializers.CardSerializer"]
    listed = [str(boards[0].pk), str(boards[1].pk)]
    assert writable.serializer_class.__name__ == CardSerializer.__name__
    inside = perform_write(channel, writable, SAVE, listed, cards[1].pk, {"title": "second"})
    assert (inside.code, Card.objects.get(pk=cards[1].pk).title) == (200, "second")
    outside = perform_write(channel, writable, SAVE, listed, cards[2].pk, {"title": "third"})
    assert (outside.code, Card.objects.get(pk=cards[2].pk).title) == (404, "t")
