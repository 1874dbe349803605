"""Random ORM writes on the two boards of a ``BoardWorld``, reproducible from a seed.

Creates, updates, deletes, reorders, moves across boards and many-to-many changes; ``run_group``
puts several in one transaction, optionally rolled back.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from board.models import Board, BoardSettings, Card, Column, Comment, Label
from django.contrib.auth.models import User
from django.db import transaction

from tests.support.world import BoardWorld


class RolledBackError(Exception):
    """Raised inside ``transaction.atomic()`` to roll the block back on purpose."""


@dataclass
class Writer:
    """Performs one random ORM write at a time on the two boards."""

    rng: random.Random
    world: BoardWorld
    counter: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def boards(self) -> list[Board]:
        return [self.world.board_a, self.world.board_b]

    @property
    def people(self) -> list[User]:
        return [self.world.alice, self.world.bob, self.world.dave]

    def name(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def pick_board(self) -> Board:
        return self.rng.choice(self.boards)

    def maybe_person(self) -> User | None:
        return self.rng.choice([*self.people, None])

    def cards(self) -> list[Card]:
        return list(Card.objects.filter(column__board__in=self.boards).order_by("pk"))

    def columns(self) -> list[Column]:
        return list(Column.objects.filter(board__in=self.boards).order_by("pk"))

    def labels(self) -> list[Label]:
        return list(Label.objects.filter(board__in=self.boards).order_by("pk"))

    def comments(self) -> list[Comment]:
        return list(Comment.objects.filter(card__column__board__in=self.boards).order_by("pk"))

    def step(self) -> None:
        """One random write (which may do nothing when it finds nothing to act on)."""
        actions: list[tuple[int, Callable[[], None]]] = [
            (3, self.board_title),
            (3, self.settings),
            (3, self.label_create),
            (3, self.label_update),
            (1, self.label_delete),
            (3, self.column_create),
            (3, self.column_update),
            (1, self.column_delete),
            (8, self.card_create),
            (8, self.card_update),
            (6, self.card_move),
            (3, self.card_delete),
            (5, self.card_label_add),
            (4, self.card_label_remove),
            (6, self.comment_create),
            (3, self.comment_update),
            (3, self.comment_delete),
            (2, self.user_rename),
        ]
        weights = [weight for weight, _ in actions]
        action = self.rng.choices([act for _, act in actions], weights=weights)[0]
        self.log.append(action.__name__)
        action()

    def board_title(self) -> None:
        board = Board.objects.get(pk=self.pick_board().pk)
        board.title = self.name("board")
        board.save()

    def settings(self) -> None:
        board = self.pick_board()
        current = BoardSettings.objects.filter(board=board).first()
        if current is None:
            BoardSettings.objects.create(board=board, theme=self.rng.choice(["light", "dark"]))
        elif self.rng.random() < 0.3:
            current.delete()
        else:
            current.theme = "dark" if current.theme == "light" else "light"
            current.save()

    def label_create(self) -> None:
        color = f"#{self.rng.randrange(0x1000000):06x}"
        Label.objects.create(board=self.pick_board(), name=self.name("label"), color=color)

    def label_update(self) -> None:
        labels = self.labels()
        if labels:
            label = self.rng.choice(labels)
            label.name = self.name("label")
            label.save()

    def label_delete(self) -> None:
        labels = self.labels()
        if len(labels) > 2:
            self.rng.choice(labels).delete()

    def column_create(self) -> None:
        Column.objects.create(
            board=self.pick_board(), title=self.name("column"), position=self.rng.randrange(6)
        )

    def column_update(self) -> None:
        columns = self.columns()
        if columns:
            column = self.rng.choice(columns)
            if self.rng.random() < 0.5:
                column.title = self.name("column")
            else:
                column.position = self.rng.randrange(6)
            column.save()

    def column_delete(self) -> None:
        columns = self.columns()
        if len(columns) > 3:
            self.rng.choice(columns).delete()

    def card_create(self) -> None:
        columns = self.columns()
        if not columns:
            return
        card = Card.objects.create(
            column=self.rng.choice(columns),
            title=self.name("card"),
            description=self.rng.choice(["", "some words"]),
            position=self.rng.randrange(5),
            estimate=self.rng.choice([None, Decimal("0.50"), Decimal("13.00")]),
            due_at=self.rng.choice([None, datetime(2030, 1, 1, tzinfo=UTC) + timedelta(hours=self.counter)]),
            assignee=self.maybe_person(),
            created_by=self.maybe_person(),
        )
        labels = [label for label in self.labels() if label.board_id == card.column.board_id]
        if labels and self.rng.random() < 0.5:
            card.labels.add(self.rng.choice(labels))

    def card_update(self) -> None:
        cards = self.cards()
        if not cards:
            return
        card = self.rng.choice(cards)
        what = self.rng.randrange(5)
        if what == 0:
            card.title = self.name("card")
        elif what == 1:
            card.estimate = self.rng.choice([None, Decimal("2.75"), Decimal("8.00")])
        elif what == 2:
            card.due_at = self.rng.choice([None, datetime(2032, 6, 1, 12, tzinfo=UTC)])
        elif what == 3:
            card.assignee = self.maybe_person()
        else:
            card.position = self.rng.randrange(5)
        card.save()

    def card_move(self) -> None:
        cards = self.cards()
        columns = self.columns()
        if cards and columns:
            card = self.rng.choice(cards)
            card.column = self.rng.choice(columns)
            card.position = self.rng.randrange(5)
            card.save()

    def card_delete(self) -> None:
        cards = self.cards()
        if cards:
            self.rng.choice(cards).delete()

    def card_label_add(self) -> None:
        cards = self.cards()
        labels = self.labels()
        if cards and labels:
            card = self.rng.choice(cards)
            label = self.rng.choice(labels)
            if self.rng.random() < 0.5:
                card.labels.add(label)
            else:
                label.cards.add(card)

    def card_label_remove(self) -> None:
        cards = [card for card in self.cards() if card.labels.exists()]
        if cards:
            card = self.rng.choice(cards)
            if self.rng.random() < 0.2:
                card.labels.clear()
            else:
                card.labels.remove(self.rng.choice(list(card.labels.all())))

    def comment_create(self) -> None:
        cards = self.cards()
        if cards:
            Comment.objects.create(
                card=self.rng.choice(cards),
                author=self.rng.choice(self.people),
                text=self.name("comment"),
            )

    def comment_update(self) -> None:
        comments = self.comments()
        if comments:
            comment = self.rng.choice(comments)
            comment.text = self.name("comment")
            comment.save()

    def comment_delete(self) -> None:
        comments = self.comments()
        if comments:
            self.rng.choice(comments).delete()

    def user_rename(self) -> None:
        user = self.rng.choice(self.people)
        user.username = self.name(user.username.split("-")[0])
        user.save()


def run_group(writer: Writer, size: int, roll_back: bool) -> None:
    """Several writes in one transaction, optionally rolled back at the end."""
    with transaction.atomic():
        for _ in range(size):
            writer.step()
        if roll_back:
            raise RolledBackError
