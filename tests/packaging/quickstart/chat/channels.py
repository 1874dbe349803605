# chat/channels.py — discovered automatically in every installed app
from rxgraphql import ContextChannel

from .models import ChatRoom
from .serializers import ChatRoomSerializer  # a nested ModelSerializer


class ChatRoomChannel(ContextChannel):
    class Meta:
        state = ChatRoomSerializer()

    def has_permission(self, user, room_id: int) -> bool:  # type: ignore[no-untyped-def]  # runs in a thread
        return ChatRoom.objects.filter(pk=room_id, participants=user).exists()
