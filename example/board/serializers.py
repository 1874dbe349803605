"""Nested DRF serializers describing the live state of a board.

``BoardSerializer`` is the channel's state. The tree mixes a one-to-one child
(settings), many children (labels, columns, cards, comments), single nullable
children (assignee, a ``source=`` renamed creator), a plain primary key (column)
and a computed field (comment_count).
"""

from django.contrib.auth.models import User
from rest_framework import serializers

from board.models import Board, BoardSettings, Card, Column, Comment, Label, Reminder
from rxgraphql import reads


class UserSerializer(serializers.ModelSerializer[User]):
    """Public face of a user (becomes ``BoardUser``, next to chat's ``ChatUser``)."""

    class Meta:
        model = User
        fields = ["id", "username"]


class LabelSerializer(serializers.ModelSerializer[Label]):
    """A label of the board."""

    class Meta:
        model = Label
        fields = ["id", "name", "color"]


class CommentSerializer(serializers.ModelSerializer[Comment]):
    """A comment with its author embedded (set by id through the channel's writes)."""

    author = UserSerializer()

    class Meta:
        model = Comment
        fields = ["id", "text", "created_at", "author"]


class ReminderSerializer(serializers.ModelSerializer[Reminder]):
    """A card's private reminder: each user's stream carries only their own."""

    class Meta:
        model = Reminder
        fields = ["id", "text", "owner"]
        user_key = "owner"


class CardSerializer(serializers.ModelSerializer[Card]):
    """A card with people, labels and comments embedded.

    The assignee and the labels can be written by id through the channel's writes; the creator and the
    comments are read-only.
    """

    assignee = UserSerializer(allow_null=True, required=False)
    creator = UserSerializer(source="created_by", read_only=True, allow_null=True)
    labels = LabelSerializer(many=True, required=False)
    comments = CommentSerializer(many=True, read_only=True)
    reminders = ReminderSerializer(many=True, read_only=True)
    comment_count = serializers.SerializerMethodField()

    class Meta:
        model = Card
        fields = [
            "id",
            "title",
            "description",
            "position",
            "estimate",
            "due_at",
            "column",
            "assignee",
            "creator",
            "labels",
            "comments",
            "reminders",
            "comment_count",
        ]

    @reads("comments")
    def get_comment_count(self, card: Card) -> int:
        """Count the card's comments (a derived value, sent as JSON)."""
        return len(card.comments.all())


class ColumnSerializer(serializers.ModelSerializer[Column]):
    """A column with its cards in order."""

    cards = CardSerializer(many=True, read_only=True)

    class Meta:
        model = Column
        fields = ["id", "title", "position", "cards"]


class BoardSettingsSerializer(serializers.ModelSerializer[BoardSettings]):
    """The board's one-to-one settings."""

    class Meta:
        model = BoardSettings
        fields = ["id", "theme"]


class BoardSerializer(serializers.ModelSerializer[Board]):
    """A whole board: owner, settings, labels and columns with their cards."""

    owner = UserSerializer(read_only=True)
    settings = BoardSettingsSerializer(read_only=True, allow_null=True)
    labels = LabelSerializer(many=True, read_only=True)
    columns = ColumnSerializer(many=True, read_only=True)

    class Meta:
        model = Board
        fields = ["id", "title", "owner", "settings", "labels", "columns"]


class BoardSummarySerializer(serializers.ModelSerializer[Board]):
    """A board in the list of a user's boards: its title and who is on it."""

    owner = UserSerializer(read_only=True)
    members = UserSerializer(many=True, read_only=True)

    class Meta:
        model = Board
        fields = ["id", "title", "owner", "members"]
