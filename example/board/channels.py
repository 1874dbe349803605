"""Live channels of the boards: one whole board, and the list of a user's boards."""

import enum
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Max, QuerySet, Sum

from board.access import boards_for
from board.models import Board, BoardSettings, Card, Column, Comment, Label
from board.serializers import BoardSerializer, BoardSummarySerializer, CardSerializer, CommentSerializer
from rxgraphql import CREATE, DELETE, SAVE, ActionError, ContextChannel, action, consumer

COLOR = re.compile(r"#[0-9a-fA-F]{6}")


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
    def add_column(self, title: str) -> int:
        """Add a column at the right end of the board."""
        title = title.strip()
        if not title or len(title) > 100:
            raise ActionError("A column needs a title of at most 100 characters", "BAD_REQUEST")
        board_id = self.kwargs["board_id"]
        with transaction.atomic():
            last = Column.objects.filter(board_id=board_id).aggregate(last=Max("position"))["last"]
            column = Column.objects.create(board_id=board_id, title=title, position=(last or 0) + 1)
        return column.pk

    @action
    def delete_column(self, column_id: int) -> bool:
        """Delete an empty column (the board's owner only)."""
        column = Column.objects.filter(pk=column_id, board_id=self.kwargs["board_id"]).first()
        if column is None:
            raise ActionError("No such column on this board", "NOT_FOUND")
        if not Board.objects.filter(pk=self.kwargs["board_id"], owner_id=self.user.pk).exists():
            raise ActionError("Only the board's owner deletes columns", "FORBIDDEN")
        if column.cards.exists():
            raise ActionError("Move or delete the column's cards first", "BAD_REQUEST")
        column.delete()
        return True

    @action
    def add_label(self, name: str, color: str) -> int:
        """Add a label (``color`` like ``#d73a4a``) that the board's cards can carry."""
        name = name.strip()
        if not name or len(name) > 50:
            raise ActionError("A label needs a name of at most 50 characters", "BAD_REQUEST")
        if not COLOR.fullmatch(color):
            raise ActionError("A colour looks like #d73a4a", "BAD_REQUEST")
        return Label.objects.create(board_id=self.kwargs["board_id"], name=name, color=color).pk

    @action
    def delete_label(self, label_id: int) -> bool:
        """Delete a label; the cards that carried it lose it."""
        deleted, _ = Label.objects.filter(pk=label_id, board_id=self.kwargs["board_id"]).delete()
        if not deleted:
            raise ActionError("No such label on this board", "NOT_FOUND")
        return True

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


class BoardPresenceChannel(ContextChannel):
    """Who has a board open (``boardPresenceChannel(boardId:)``): its runtime state ``viewers``.

    A channel of its own beside ``BoardChannel``, so that only the pages that show the viewers open it
    and the board's own stream carries nothing but the board. Its state is the board's summary.
    """

    class Meta:
        state = BoardSummarySerializer()

    def has_permission(self, user: AbstractBaseUser | AnonymousUser, board_id: int) -> bool:
        """The board's owner and members."""
        return boards_for(user).filter(pk=board_id).exists()

    @dataclass
    class RuntimeState:
        """Per subscriber: who has the board open right now (usernames, sorted, once each)."""

        viewers: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        return f"board-{self.kwargs['board_id']}"

    async def on_connect(self, since: str | None) -> None:
        """Join the board's group and say hello; everyone there answers, so each learns who is here."""
        self.presence_id = uuid.uuid4().hex
        self.present: dict[str, str] = {}  # presence id of each open subscription -> its username
        await self.group_add(self.group)
        await self._announce(present=True, ask=True)

    async def on_disconnect(self) -> None:
        await self._announce(present=False, ask=False)

    async def _announce(self, *, present: bool, ask: bool) -> None:
        layer = get_channel_layer()
        assert layer is not None
        event = {
            "type": "board.presence",
            "id": self.presence_id,
            "user": self.user.get_username(),
            "present": present,
            "ask": ask,
        }
        await layer.group_send(self.group, event)

    @consumer("board.presence")
    async def someone_is_here(self, event: dict[str, Any]) -> None:
        """Track the board's open subscriptions (a user with two tabs is listed once, until both close)."""
        if event["present"]:
            self.present[event["id"]] = event["user"]
        else:
            self.present.pop(event["id"], None)
        if event["ask"] and event["id"] != self.presence_id:
            await self._announce(present=True, ask=False)
        viewers = sorted(set(self.present.values()))
        if viewers != self.runtime_state.viewers:
            await self.set_runtime_var("viewers", viewers)


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
