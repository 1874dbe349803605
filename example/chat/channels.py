"""Live channel for one chat room, open to its participants only."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from chat.models import ChatRoom, Message
from chat.serializers import ChatRoomSerializer
from rxgraphql import ActionError, ContextChannel, action


@dataclass
class MessagePosted:
    """The message a ``post`` action created."""

    id: int
    created_at: datetime


class ChatRoomChannel(ContextChannel):
    """Streams a room, its participants and its messages (``chatRoomChannel(roomId:)``)."""

    class Meta:
        state = ChatRoomSerializer()

    def has_permission(self, user: AbstractBaseUser | AnonymousUser, room_id: int) -> bool:
        """Allow authenticated participants of the room."""
        if not user.is_authenticated:
            return False
        return ChatRoom.objects.filter(pk=room_id, participants__pk=user.pk).exists()

    @action
    def post(self, text: str) -> MessagePosted:
        """Post a message to the room as the signed-in user."""
        text = text.strip()
        if not text:
            raise ActionError("A message cannot be empty", "BAD_REQUEST")
        message = Message.objects.create(room_id=self.kwargs["room_id"], author=self.user, text=text)
        return MessagePosted(id=message.pk, created_at=message.created_at)
