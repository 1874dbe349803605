"""``manage.py seed_demo``: demo users, chat rooms and boards to try the live API with.

Safe to run repeatedly: existing demo objects are kept as they are (so changes made
while playing survive); ``--reset`` deletes the demo users, rooms and boards first.
"""

from argparse import ArgumentParser
from datetime import timedelta
from decimal import Decimal
from typing import Any

from chat.models import ChatRoom
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from board.management.demo_data import (
    CARDS,
    COLUMNS,
    DEMO_PASSWORD,
    DEMO_USERS,
    GENERAL_MESSAGES,
    LABELS,
    ROOM_NAMES,
)
from board.models import Board, BoardSettings, Card, Column, Comment, Label


class Command(BaseCommand):
    """Create (or recreate with ``--reset``) the example's demo data."""

    help = "Create demo users (password 'demo'), their API tokens, chat rooms and boards."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo data before creating it again."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            if options["reset"]:
                self._reset()
            users = self._users()
            self._chat(users)
            self._boards(users)
        self._summary(users)

    def _reset(self) -> None:
        """Delete demo rooms, boards and users (their messages, cards and tokens go too)."""
        ChatRoom.objects.filter(name__in=ROOM_NAMES).delete()
        Board.objects.filter(owner__username__in=DEMO_USERS).delete()
        User.objects.filter(username__in=DEMO_USERS).delete()
        self.stdout.write("Deleted the previous demo data.")

    def _users(self) -> dict[str, User]:
        """Ensure alice (superuser), bob and carol exist with password 'demo' and a token."""
        users: dict[str, User] = {}
        for name in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=name, defaults={"email": f"{name}@example.com"})
            user.is_staff = user.is_superuser = name == "alice"
            user.set_password(DEMO_PASSWORD)
            user.save()
            Token.objects.get_or_create(user=user)
            users[name] = user
        return users

    def _chat(self, users: dict[str, User]) -> None:
        """Ensure "General" (alice, bob; three messages) and "Random" (everyone)."""
        general, created = ChatRoom.objects.get_or_create(name="General")
        general.participants.add(users["alice"], users["bob"])
        if created:
            for author, text in GENERAL_MESSAGES:
                general.messages.create(author=users[author], text=text)
        random, _ = ChatRoom.objects.get_or_create(name="Random")
        random.participants.add(*users.values())

    def _boards(self, users: dict[str, User]) -> None:
        """Ensure "Launch" (alice, with bob) and "Private" (carol alone)."""
        launch, created = Board.objects.get_or_create(title="Launch", owner=users["alice"])
        launch.members.add(users["bob"])
        if created:
            self._fill_launch(launch, users)
        private, created = Board.objects.get_or_create(title="Private", owner=users["carol"])
        if created:
            BoardSettings.objects.create(board=private, theme=BoardSettings.Theme.DARK)
            ideas = Column.objects.create(board=private, title="Ideas", position=0)
            Card.objects.create(column=ideas, title="Only carol can see this", created_by=users["carol"])

    def _fill_launch(self, board: Board, users: dict[str, User]) -> None:
        """Settings, labels, three columns and the cards with their comments."""
        BoardSettings.objects.create(board=board)
        labels = {name: Label.objects.create(board=board, name=name, color=color) for name, color in LABELS}
        columns = {
            title: Column.objects.create(board=board, title=title, position=index)
            for index, title in enumerate(COLUMNS)
        }
        now = timezone.now().replace(microsecond=0)
        positions = dict.fromkeys(COLUMNS, 0)
        for spec in CARDS:
            card = Card.objects.create(
                column=columns[spec.column],
                title=spec.title,
                position=positions[spec.column],
                assignee=users[spec.assignee] if spec.assignee else None,
                created_by=users["alice"],
                estimate=Decimal(spec.estimate) if spec.estimate else None,
                due_at=(now + timedelta(days=spec.due_in_days) if spec.due_in_days is not None else None),
            )
            positions[spec.column] += 1
            card.labels.set([labels[name] for name in spec.labels])
            for author, text in spec.comments:
                Comment.objects.create(card=card, author=users[author], text=text)

    def _summary(self, users: dict[str, User]) -> None:
        """Print the users with their tokens and what exists now."""
        self.stdout.write(f"Demo users (password '{DEMO_PASSWORD}') and API tokens:")
        for name, user in users.items():
            key = Token.objects.get(user=user).key
            self.stdout.write(f"  {name:<6} {key}")
        for room in ChatRoom.objects.filter(name__in=ROOM_NAMES).order_by("id"):
            self.stdout.write(
                f"Chat room {room.pk} {room.name!r}: participants: {room.participants.count()}, "
                f"messages: {room.messages.count()}"
            )
        for board in Board.objects.filter(owner__username__in=DEMO_USERS).order_by("id"):
            cards = Card.objects.filter(column__board=board).count()
            self.stdout.write(
                f"Board {board.pk} {board.title!r} of {board.owner}: "
                f"columns: {board.columns.count()}, cards: {cards}"
            )
        self.stdout.write(self.style.SUCCESS("Send 'Authorization: Token <key>' to /graphql."))
