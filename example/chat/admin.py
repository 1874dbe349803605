"""Admin screens for chat rooms and messages; edits here stream to subscribers too."""

from django.contrib import admin

from chat.models import ChatRoom, Message


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    """Rooms with their participants."""

    list_display = ["id", "name"]
    filter_horizontal = ["participants"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Messages, newest first."""

    list_display = ["id", "room", "author", "text", "created_at"]
    list_filter = ["room"]
    ordering = ["-created_at", "-id"]
