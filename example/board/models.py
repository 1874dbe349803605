"""Kanban data: boards with settings, labels, columns, cards and comments.

The shapes cover every relation a layer can have: one-to-one (settings),
foreign keys both ways (columns, cards, assignee), many-to-many (members, labels)
and nullable links (assignee, creator).
"""

# Aliased: inside Board's body type checkers would read ``settings`` as the reverse
# accessor of BoardSettings (related_name="settings").
from django.conf import settings as django_settings
from django.db import models


class Board(models.Model):
    """A board, visible to its owner and members."""

    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, related_name="owned_boards", on_delete=models.CASCADE
    )
    members = models.ManyToManyField(django_settings.AUTH_USER_MODEL, related_name="boards", blank=True)

    def __str__(self) -> str:
        return self.title


class BoardSettings(models.Model):
    """Per-board preferences (a one-to-one child)."""

    class Theme(models.TextChoices):
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    board = models.OneToOneField(Board, related_name="settings", on_delete=models.CASCADE)
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.LIGHT)

    class Meta:
        verbose_name_plural = "board settings"

    def __str__(self) -> str:
        return f"Settings of {self.board}"


class Label(models.Model):
    """A coloured tag that cards of the same board can carry."""

    board = models.ForeignKey(Board, related_name="labels", on_delete=models.CASCADE)
    name = models.CharField(max_length=50)
    color = models.CharField(max_length=7, help_text="Hex colour such as #d73a4a.")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Column(models.Model):
    """A list of cards on a board."""

    board = models.ForeignKey(Board, related_name="columns", on_delete=models.CASCADE)
    title = models.CharField(max_length=100)
    position = models.IntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.board} / {self.title}"


class Card(models.Model):
    """A task in a column."""

    column = models.ForeignKey(Column, related_name="cards", on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    position = models.IntegerField(default=0)
    estimate = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        related_name="assigned_cards",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL,
        related_name="created_cards",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    labels = models.ManyToManyField(Label, related_name="cards", blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    """A remark on a card."""

    card = models.ForeignKey(Card, related_name="comments", on_delete=models.CASCADE)
    author = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author} on {self.card}: {self.text[:40]}"


class Reminder(models.Model):
    """A private note on a card: only its owner sees it (``user_key`` on its serializer)."""

    card = models.ForeignKey(Card, related_name="reminders", on_delete=models.CASCADE)
    owner = models.ForeignKey(django_settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.CharField(max_length=200)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.owner}'s reminder on {self.card}"
