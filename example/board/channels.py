"""Live channel for one board, open to its owner and members."""

import enum
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Sum

from board.access import boards_for
from board.models import Board, BoardSettings, Card
from board.serializers import BoardSerializer
from rxgraphql import ActionError, ContextChannel, action


class Theme(enum.Enum):
    LIGHT = "light"
    DARK = "dark"


class BoardChannel(ContextChannel):
    """Streams a board and everything under it (``boardChannel(boardId:)``)."""

    class Meta:
        state = BoardSerializer()

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
