"""Example data for the live tests, created with the plain ORM.

Two boards of one owner cover every relation of the board tree: a one-to-one settings
row (present on one board, absent on the other), labels, ordered columns and cards,
nullable people, decimals, date-times, many-to-many labels and comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from board.models import Board, BoardSettings, Card, Column, Comment, Label
from board.serializers import BoardSerializer
from chat.models import ChatRoom, Message
from chat.serializers import ChatRoomSerializer
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token

from tests.support.rebuild import BOARD_TREE, CHAT_TREE, normalize_drf


@dataclass
class BoardWorld:
    """Users with tokens and two boards owned by ``alice``.

    ``bob`` is a member of board A, ``dave`` of board B, ``carol`` of neither.
    """

    alice: User
    bob: User
    carol: User
    dave: User
    tokens: dict[int, str]
    board_a: Board
    board_b: Board

    def token(self, user: User) -> str:
        """The DRF token key of ``user`` (keyed by pk: tests rename users)."""
        return self.tokens[user.pk]


def make_user(username: str) -> tuple[User, str]:
    """A user with a password and a DRF token."""
    user = User.objects.create_user(username=username, password="secret")
    token = Token.objects.create(user=user)
    return user, token.key


def session_key_of(user: User) -> str:
    """The key of a saved Django session in which ``user`` is signed in."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    assert session.session_key is not None
    return session.session_key


def make_board_world() -> BoardWorld:
    """Create the two boards and their people."""
    alice, alice_key = make_user("alice")
    bob, bob_key = make_user("bob")
    carol, carol_key = make_user("carol")
    dave, dave_key = make_user("dave")

    board_a = Board.objects.create(title="Roadmap", owner=alice)
    board_a.members.add(bob)
    BoardSettings.objects.create(board=board_a, theme=BoardSettings.Theme.DARK)
    bug = Label.objects.create(board=board_a, name="bug", color="#d73a4a")
    feature = Label.objects.create(board=board_a, name="feature", color="#a2eeef")
    ux = Label.objects.create(board=board_a, name="ux", color="#7057ff")
    todo = Column.objects.create(board=board_a, title="Todo", position=0)
    doing = Column.objects.create(board=board_a, title="Doing", position=1)
    Column.objects.create(board=board_a, title="Done", position=2)
    spec = Card.objects.create(
        column=todo,
        title="Write spec",
        description="All of it",
        position=0,
        estimate=Decimal("3.50"),
        due_at=datetime(2030, 5, 17, 9, 30, tzinfo=UTC),
        assignee=bob,
        created_by=alice,
    )
    spec.labels.add(bug, feature)
    Comment.objects.create(card=spec, author=alice, text="First draft is up")
    Comment.objects.create(card=spec, author=bob, text="Reviewing")
    Card.objects.create(column=todo, title="Fix login", position=1)
    ship = Card.objects.create(
        column=doing, title="Ship", position=0, estimate=Decimal("1.00"), created_by=bob
    )
    ship.labels.add(ux)
    Comment.objects.create(card=ship, author=bob, text="Almost there")

    board_b = Board.objects.create(title="Side project", owner=alice)
    board_b.members.add(dave)
    Label.objects.create(board=board_b, name="later", color="#cccccc")
    ideas = Column.objects.create(board=board_b, title="Ideas", position=0)
    Column.objects.create(board=board_b, title="Backlog", position=1)
    idea = Card.objects.create(column=ideas, title="Idea 1", position=0, assignee=dave)
    Comment.objects.create(card=idea, author=dave, text="Worth a try")

    tokens = {alice.pk: alice_key, bob.pk: bob_key, carol.pk: carol_key, dave.pk: dave_key}
    return BoardWorld(alice, bob, carol, dave, tokens, board_a, board_b)


def board_expected(board_id: int) -> Any:
    """What the serializer says the board is now, in the comparable shape."""
    board = Board.objects.get(pk=board_id)
    return normalize_drf(BoardSerializer(board).data, BOARD_TREE, "Board")


def room_expected(room_id: int) -> Any:
    """What the serializer says the chat room is now, in the comparable shape."""
    room = ChatRoom.objects.get(pk=room_id)
    return normalize_drf(ChatRoomSerializer(room).data, CHAT_TREE, "ChatRoom")


def make_room(name: str, *participants: User) -> ChatRoom:
    """A chat room with participants and one message by the first of them."""
    room = ChatRoom.objects.create(name=name)
    room.participants.add(*participants)
    Message.objects.create(room=room, author=participants[0], text="hello")
    return room
