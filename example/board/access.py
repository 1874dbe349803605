"""Who may see or change a board: its owner and its members.

Shared by the live channel and the mutations so both apply the same rule.
"""

from typing import Any

from django.db.models import Q, QuerySet

from board.models import Board


def boards_for(user: Any) -> QuerySet[Board]:
    """Boards ``user`` owns or is a member of (none for anonymous users)."""
    if not user.is_authenticated:
        return Board.objects.none()
    return Board.objects.filter(Q(owner=user) | Q(members=user)).distinct()


def parse_pk(value: str, name: str) -> int:
    """Turn a GraphQL ``ID`` into a primary key, with a readable error otherwise."""
    text = str(value).strip()
    if not text.isdigit():
        raise ValueError(f"{name} must be a numeric id.")
    return int(text)
