"""Live channel for one board, open to its owner and members."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from board.access import boards_for
from board.serializers import BoardSerializer
from rxgraphql import ContextChannel


class BoardChannel(ContextChannel):
    """Streams a board and everything under it (``boardChannel(boardId:)``)."""

    class Meta:
        state = BoardSerializer()

    def has_permission(self, user: AbstractBaseUser | AnonymousUser, board_id: int) -> bool:
        """Allow the board's owner and members."""
        return boards_for(user).filter(pk=board_id).exists()
