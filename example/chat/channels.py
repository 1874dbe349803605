"""Live channel for one chat room, open to its participants only."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from chat.models import ChatRoom
from chat.serializers import ChatRoomSerializer
from rxgraphql import ContextChannel


class ChatRoomChannel(ContextChannel):
    """Streams a room, its participants and its messages (``chatRoomChannel(roomId:)``)."""

    class Meta:
        state = ChatRoomSerializer()

    def has_permission(self, user: AbstractBaseUser | AnonymousUser, room_id: int) -> bool:
        """Allow authenticated participants of the room."""
        if not user.is_authenticated:
            return False
        return ChatRoom.objects.filter(pk=room_id, participants__pk=user.pk).exists()
