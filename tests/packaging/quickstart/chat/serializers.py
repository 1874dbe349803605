"""The nested ModelSerializer the channel names as its state."""

from django.contrib.auth.models import User
from rest_framework import serializers

from chat.models import ChatRoom, Message


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "username"]


class MessageSerializer(serializers.ModelSerializer[Message]):
    author = UserSerializer(read_only=True)

    class Meta:
        model = Message
        fields = ["id", "text", "created_at", "author"]


class ChatRoomSerializer(serializers.ModelSerializer[ChatRoom]):
    participants = UserSerializer(many=True, read_only=True)
    messages = MessageSerializer(many=True, read_only=True)

    class Meta:
        model = ChatRoom
        fields = ["id", "name", "participants", "messages"]
