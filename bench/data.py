"""The benchmark database: created, migrated, filled with big boards by ``bulk_create``, dropped.

A board of ``n`` records holds, counted as the channel counts them (one flat record per row): the board,
its settings, 5 labels, 10 columns, a pool of 10 users (owner, assignees, authors), and cards with one
comment each; every card carries one label. ``bulk_create`` sends no signals, so building a board
publishes nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

FIXED_RECORDS = 1 + 1 + 5 + 10 + 10


@dataclass(frozen=True)
class BigBoard:
    """A board built for the benchmarks and the token of its owner."""

    pk: int
    records: int
    token: str
    card_ids: list[int]


def _admin_dsn(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    return admin, name


def create_database(url: str) -> None:
    """Drop (if left over) and create the database named by ``url``."""
    admin, name = _admin_dsn(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    """Drop the database named by ``url``, closing the sessions still open on it."""
    admin, name = _admin_dsn(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def migrate() -> None:
    """Create the tables (Django must be set up)."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def build_board(records: int, tag: str) -> BigBoard:
    """A board of about ``records`` flat records (see the module docstring)."""
    from board.models import Board, BoardSettings, Card, Column, Comment, Label
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    users = User.objects.bulk_create([User(username=f"{tag}-u{i}") for i in range(10)])
    owner = users[0]
    token = Token.objects.create(user=owner)
    board = Board.objects.create(title=f"Board {tag}", owner=owner)
    BoardSettings.objects.create(board=board)
    labels = Label.objects.bulk_create(
        [Label(board=board, name=f"label {i}", color="#a2eeef") for i in range(5)]
    )
    columns = Column.objects.bulk_create(
        [Column(board=board, title=f"Column {i}", position=i) for i in range(10)]
    )
    n_cards = max(1, (records - FIXED_RECORDS) // 2)
    due = datetime(2030, 5, 17, 9, 30, tzinfo=UTC)
    cards = Card.objects.bulk_create(
        [
            Card(
                column=columns[i % 10],
                title=f"Card {i}",
                description="A card with a short description of what it asks for.",
                position=i,
                estimate=Decimal("1.50"),
                due_at=due + timedelta(hours=i),
                assignee=users[i % 10],
                created_by=owner,
            )
            for i in range(n_cards)
        ],
        batch_size=2000,
    )
    Comment.objects.bulk_create(
        [
            Comment(card=card, author=users[i % 10], text=f"Comment on card {i}")
            for i, card in enumerate(cards)
        ],
        batch_size=2000,
    )
    through = Card.labels.through
    through.objects.bulk_create(
        [through(card_id=card.pk, label_id=label.pk) for card, label in zip(cards, itertools.cycle(labels))],
        batch_size=2000,
    )
    total = FIXED_RECORDS + 2 * n_cards
    return BigBoard(board.pk, total, token.key, [card.pk for card in cards])


def add_members(board: BigBoard, count: int, tag: str) -> list[str]:
    """``count`` new users made members of ``board`` (not part of its tree); their tokens."""
    from board.models import Board
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    users = User.objects.bulk_create([User(username=f"{tag}-m{i}") for i in range(count)], batch_size=2000)
    tokens = Token.objects.bulk_create(
        [Token(key=Token.generate_key(), user=user) for user in users], batch_size=2000
    )
    Board.objects.get(pk=board.pk).members.add(*users)
    return [token.key for token in tokens]
