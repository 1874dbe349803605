"""GraphQL mutations of the board app; subscribers see their effects through BoardChannel.

Every mutation checks that the user may access the boards involved, then changes
the ORM in one transaction inside a worker thread.
"""

from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from django.db import transaction

from board.access import boards_for, parse_pk
from board.models import Card, Column, Comment


def _card_for(user: Any, card_id: str) -> Card:
    """Lock and return a card on a board the user may access, or refuse."""
    if not user.is_authenticated:
        raise PermissionError("Sign in to change boards.")
    pk = parse_pk(card_id, "cardId")
    card = (
        Card.objects.select_for_update(of=("self",)).filter(pk=pk, column__board__in=boards_for(user)).first()
    )
    if card is None:
        raise PermissionError("This card does not exist or is on a board you cannot access.")
    return card


def _move_card(user: Any, card_id: str, column_id: str, position: int) -> bool:
    """Put the card at ``position`` in the target column and renumber both columns."""
    with transaction.atomic():
        card = _card_for(user, card_id)
        target = Column.objects.filter(pk=parse_pk(column_id, "columnId"), board__in=boards_for(user)).first()
        if target is None:
            raise PermissionError("This column does not exist or is on a board you cannot access.")
        source = card.column
        if source.board_id != target.board_id:
            card.labels.remove(*card.labels.exclude(board_id=target.board_id))
        siblings = list(target.cards.exclude(pk=card.pk))
        siblings.insert(max(0, min(position, len(siblings))), card)
        card.column = target
        _renumber(siblings, always=card)
        if source.pk != target.pk:
            _renumber(list(source.cards.all()))
    return True


def _renumber(cards: list[Card], always: Card | None = None) -> None:
    """Give cards positions 0..n-1, saving only those that change (and ``always``)."""
    for index, card in enumerate(cards):
        if card is always:
            card.position = index
            card.save(update_fields=["column", "position"])
        elif card.position != index:
            card.position = index
            card.save(update_fields=["position"])


def _rename_card(user: Any, card_id: str, title: str) -> bool:
    """Change a card's title."""
    with transaction.atomic():
        card = _card_for(user, card_id)
        card.title = title
        card.save(update_fields=["title"])
    return True


def _add_comment(user: Any, card_id: str, text: str) -> int:
    """Comment on a card as ``user``."""
    with transaction.atomic():
        card = _card_for(user, card_id)
        return Comment.objects.create(card=card, author=user, text=text).pk


def _required(value: str, name: str) -> str:
    """Strip a text argument and refuse it when empty."""
    cleaned = value.strip()
    if not cleaned:
        raise ValueError(f"{name} cannot be empty.")
    return cleaned


async def resolve_move_card(
    info: strawberry.Info, card_id: strawberry.ID, column_id: strawberry.ID, position: int
) -> bool:
    """Reorder in a worker thread."""
    return await sync_to_async(_move_card)(info.context.user, card_id, column_id, position)


async def resolve_rename_card(info: strawberry.Info, card_id: strawberry.ID, title: str) -> bool:
    """Rename in a worker thread."""
    cleaned = _required(title, "title")
    return await sync_to_async(_rename_card)(info.context.user, card_id, cleaned)


async def resolve_add_comment(info: strawberry.Info, card_id: strawberry.ID, text: str) -> strawberry.ID:
    """Create the comment in a worker thread."""
    cleaned = _required(text, "text")
    pk = await sync_to_async(_add_comment)(info.context.user, card_id, cleaned)
    return strawberry.ID(str(pk))


@strawberry.type
class BoardMutation:
    """Board mutations merged into the project's ``Mutation``."""

    move_card: bool = strawberry.mutation(
        resolver=resolve_move_card,
        description="Move a card to a position in a column (0 is the top).",
    )
    rename_card: bool = strawberry.mutation(
        resolver=resolve_rename_card, description="Give a card a new title."
    )
    add_comment: strawberry.ID = strawberry.mutation(
        resolver=resolve_add_comment, description="Comment on a card; returns the new comment's id."
    )
