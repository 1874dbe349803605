"""Admin screens for every board model; edits here stream to subscribers too."""

from django.contrib import admin

from board.models import Board, BoardSettings, Card, Column, Comment, Label


@admin.register(Board)
class BoardAdmin(admin.ModelAdmin):
    """Boards with owner and members."""

    list_display = ["id", "title", "owner"]
    filter_horizontal = ["members"]


@admin.register(BoardSettings)
class BoardSettingsAdmin(admin.ModelAdmin):
    """One settings row per board."""

    list_display = ["id", "board", "theme"]


@admin.register(Label)
class LabelAdmin(admin.ModelAdmin):
    """Labels per board."""

    list_display = ["id", "name", "color", "board"]
    list_filter = ["board"]


@admin.register(Column)
class ColumnAdmin(admin.ModelAdmin):
    """Columns per board, in board order."""

    list_display = ["id", "title", "board", "position"]
    list_filter = ["board"]
    ordering = ["board", "position", "id"]


@admin.register(Card)
class CardAdmin(admin.ModelAdmin):
    """Cards with their labels editable side by side."""

    list_display = ["id", "title", "column", "position", "assignee", "estimate", "due_at"]
    list_filter = ["column__board", "column"]
    filter_horizontal = ["labels"]
    ordering = ["column", "position", "id"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    """Comments, newest first."""

    list_display = ["id", "card", "author", "text", "created_at"]
    ordering = ["-created_at", "-id"]
