"""The board's ordinary (not live) API, written with strawberry-django: a searchable card list.

This is how most Django teams write their GraphQL: model types, filters, ordering and pagination from
``strawberry_django``, with its query optimizer and permission extensions. rxgraphql merges these fields
into the same schema through ``RXGRAPHQL["QUERY"]``, next to the live channels.

Naming rule: a layer type of a channel takes its serializer's name without ``Serializer`` (``Card``,
``Column``, ``BoardUser``); the types written here for the same models end in ``Type`` (``CardType``), so
both live in one schema. A type that took a layer's name would make the schema build fail with a message
naming the channel.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
import strawberry_django
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from strawberry import auto
from strawberry_django.pagination import OffsetPaginated
from strawberry_django.permissions import IsAuthenticated

from board import models
from board.access import boards_for

SEARCH_MAX_LENGTH = 200


def _visible(queryset: QuerySet[Any], info: strawberry.Info, board_path: str) -> QuerySet[Any]:
    """Only rows of boards the signed-in user may open (``board_path`` leads from the row to its board)."""
    return queryset.filter(**{f"{board_path}__in": boards_for(info.context.user)})


@strawberry_django.type(User)
class PersonType:
    """A user as the card list shows them."""

    id: auto
    username: auto


@strawberry_django.type(models.Board)
class BoardType:
    """The board a card is on."""

    id: auto
    title: auto

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Any], info: strawberry.Info, **kwargs: Any) -> QuerySet[Any]:
        return _visible(queryset, info, "pk")


@strawberry_django.type(models.Column)
class ColumnType:
    """The column a card is in."""

    id: auto
    title: auto
    position: auto
    board: BoardType


@strawberry_django.type(models.Label)
class LabelType:
    """A label of a card."""

    id: auto
    name: auto
    color: auto


@strawberry_django.filter_type(models.Card, lookups=True)
class CardFilter:
    """Narrow the card list: free text, a board, a title or an estimate range."""

    title: auto
    estimate: auto

    @strawberry_django.filter_field
    def search(self, value: str, prefix: str) -> Q:
        """Cards whose title or description contains the text (case-insensitive)."""
        text = value.strip()[:SEARCH_MAX_LENGTH]
        return Q(**{f"{prefix}title__icontains": text}) | Q(**{f"{prefix}description__icontains": text})

    @strawberry_django.filter_field
    def board(self, value: strawberry.ID, prefix: str) -> Q:
        """Cards of one board."""
        return Q(**{f"{prefix}column__board_id": value})


@strawberry_django.order_type(models.Card)
class CardOrder:
    """Sort the card list (one field per entry; the list gives the precedence)."""

    title: auto
    position: auto
    estimate: auto
    due_at: auto


@strawberry_django.type(models.Card, filters=CardFilter, ordering=CardOrder)
class CardType:
    """A card as the search lists it, with its column, board, assignee and labels."""

    id: auto
    title: auto
    description: auto
    position: auto
    estimate: Decimal | None
    due_at: auto
    column: ColumnType
    assignee: PersonType | None
    labels: list[LabelType]

    @classmethod
    def get_queryset(cls, queryset: QuerySet[Any], info: strawberry.Info, **kwargs: Any) -> QuerySet[Any]:
        return _visible(queryset, info, "column__board")


@strawberry.type
class BoardQuery:
    """The board app's ordinary queries, merged into the project's ``Query``."""

    cards: OffsetPaginated[CardType] = strawberry_django.offset_paginated(
        extensions=[IsAuthenticated(fail_silently=False)],
        description="Cards of your boards: filter, order and page through them (signed-in users only).",
    )
