"""Nested DRF serializers describing the live state of a chat room.

``ChatRoomSerializer`` is the channel's state; each serializer class becomes one
GraphQL record type (``ChatRoom``, ``Message``, ``ChatUser``).
"""

from django.contrib.auth.models import User
from rest_framework import serializers

from chat.models import ChatRoom, Message


class UserSerializer(serializers.ModelSerializer[User]):
    """Public face of a user: never the e-mail address or the password hash."""

    class Meta:
        model = User
        fields = ["id", "username"]


class MessageSerializer(serializers.ModelSerializer[Message]):
    """A message with its author embedded."""

    author = UserSerializer(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "text", "created_at", "author"]


class ChatRoomSerializer(serializers.ModelSerializer[ChatRoom]):
    """A room with its participants and every message."""

    participants = UserSerializer(many=True, read_only=True)
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = ChatRoom
        fields = ["id", "name", "participants", "messages"]
