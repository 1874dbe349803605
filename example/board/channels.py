"""Live channels of the boards: one whole board, and the list of a user's boards."""

import enum
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import QuerySet, Sum

from board.access import boards_for
from board.models import Board, BoardSettings, Card, Column, Comment, Label
from board.serializers import BoardSerializer, BoardSummarySerializer, CardSerializer, CommentSerializer
from rxgraphql import CREATE, DELETE, SAVE, ActionError, ContextChannel, action


class Theme(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


class BoardChannel(ContextChannel):
    """Streams a board and everything under it (``boardChannel(boardId:)``)."""

    class Meta:
        state = BoardSerializer()
        writable = {CardSerializer: [SAVE, CREATE, DELETE], CommentSerializer: [CREATE, DELETE]}
        recheck_on = [Board.members.through]  # a member removed stops receiving at once

    def _own_labels(self, labels: list[Label]) -> bool:
        return all(label.board_id == self.kwargs["board_id"] for label in labels)

    def _on_board(self, user: Any) -> bool:
        return user is None or boards_for(user).filter(pk=self.kwargs["board_id"]).exists()

    def can_save(self, instance: Any, data: dict[str, Any]) -> bool:
        """Members edit cards; a card only takes labels of its own board and an assignee on the board."""
        return (
            isinstance(instance, Card)
            and self._own_labels(data.get("labels", []))
            and self._on_board(data.get("assignee"))
        )

    def can_create(self, model: type[Any], data: dict[str, Any]) -> bool:
        """Members add cards, and comments signed with their own name."""
        if model is Comment:
            return data.get("author") == self.user
        return (
            model is Card
            and self._own_labels(data.get("labels", []))
            and self._on_board(data.get("assignee"))
        )

    def can_reference(self, field: str, target: Any) -> bool:
        """A member not shown on the board yet may become an assignee or sign a comment."""
        return field in ("assignee", "author") and self._on_board(target)

    def can_delete(self, instance: Any) -> bool:
        """Authors delete their comments; the board's owner deletes cards."""
        if isinstance(instance, Comment):
            return bool(instance.author_id == self.user.pk)
        return Board.objects.filter(pk=self.kwargs["board_id"], owner_id=self.user.pk).exists()

    def has_permission(self, user: AbstractBaseUser | AnonymousUser, board_id: int) -> bool:
        """Allow the board's owner and members."""
        return boards_for(user).filter(pk=board_id).exists()

    @action
    async def rename(self, title: str) -> str:
        """Give the board a new title (an async action)."""
        title = title.strip()
        if not title:
            raise ActionError("A board needs a title", "BAD_REQUEST")
        board = await Board.objects.aget(pk=self.kwargs["board_id"])
        board.title = title
        await sync_to_async(board.save)()
        return title

    @action
    def set_theme(self, theme: Theme) -> None:
        """Switch the board between the light and the dark theme."""
        board_id = self.kwargs["board_id"]
        BoardSettings.objects.update_or_create(board_id=board_id, defaults={"theme": theme.value})

    @action
    def total_estimate(self) -> Decimal:
        """The sum of the cards' estimates (a decimal, so it travels as a string)."""
        total = Card.objects.filter(column__board_id=self.kwargs["board_id"]).aggregate(total=Sum("estimate"))
        return total["total"] or Decimal("0")


class MyBoardsChannel(ContextChannel):
    """The boards the signed-in user owns or belongs to, by title (``myBoardsChannel``).

    A board the user gains access to is added at the end of the list, one they lose is removed.
    """

    class Meta:
        state = BoardSummarySerializer(many=True)
        auto_update = True

    def has_permission(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """Any signed-in user has a list of boards (possibly empty)."""
        return bool(user.is_authenticated)

    def list_instances(self) -> QuerySet[Board]:
        return boards_for(self.user).order_by("title", "pk")

    def is_visible(self, instance: Board) -> bool:
        return boards_for(self.user).filter(pk=instance.pk).exists()

    @action
    def create_board(self, title: str) -> int:
        """Create a board owned by the user, with three columns; it joins every list of theirs."""
        title = title.strip()
        if not title:
            raise ActionError("A board needs a title", "BAD_REQUEST")
        with transaction.atomic():
            board = Board.objects.create(title=title, owner=self.user)
            for position, column in enumerate(("Todo", "Doing", "Done")):
                Column.objects.create(board=board, title=column, position=position)
        return board.pk

    @action
    async def hide(self, board_id: int) -> bool:
        """Stop showing one board in this list (until the next subscription)."""
        return await self.remove_instance(board_id)

    @action
    async def show(self, board_id: int, at_start: bool = False) -> bool:
        """Show one of the user's boards again, at the end of the list or at its start."""
        if not await boards_for(self.user).filter(pk=board_id).aexists():
            raise ActionError("No such board", "NOT_FOUND")
        return await self.add_instance(board_id, at_start=at_start)

    @action
    async def hide_all(self) -> None:
        """Empty this list (until the next subscription)."""
        await self.clear()
