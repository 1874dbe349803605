"""Live channel for one chat room, open to its participants only."""

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser

from chat.models import ChatRoom, Message
from chat.serializers import ChatRoomSerializer
from rxgraphql import ActionError, ContextChannel, action, consumer


@dataclass
class MessagePosted:
    """The message a ``post`` action created."""

    id: int
    created_at: datetime


TYPING_SECONDS = 4.0


class ChatRoomChannel(ContextChannel):
    """Streams a room, its participants and its messages (``chatRoomChannel(roomId:)``)."""

    class Meta:
        state = ChatRoomSerializer()

    @dataclass
    class RuntimeState:
        """Per subscriber: who in the room is typing right now."""

        typing: list[str] = field(default_factory=list)

    @property
    def group(self) -> str:
        return f"chat-room-{self.kwargs['room_id']}"

    async def on_connect(self, since: str | None) -> None:
        self.typing_until: dict[str, float] = {}
        await self.group_add(self.group)

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
        layer = get_channel_layer()
        assert layer is not None
        # The message is here: its author is no longer "typing" (without waiting for the timer).
        async_to_sync(layer.group_send)(
            self.group, {"type": "chat.stopped_typing", "user": self.user.get_username()}
        )
        return MessagePosted(id=message.pk, created_at=message.created_at)

    @action
    async def typing(self) -> None:
        """Tell the room's other subscribers that you are typing."""
        layer = get_channel_layer()
        assert layer is not None
        await layer.group_send(self.group, {"type": "chat.typing", "user": self.user.get_username()})

    @consumer("chat.typing")
    async def someone_types(self, event: dict[str, Any]) -> None:
        """Show the name for TYPING_SECONDS after the last keystroke notice."""
        name = event["user"]
        loop = asyncio.get_running_loop()
        self.typing_until[name] = loop.time() + TYPING_SECONDS
        await self.set_runtime_var("typing", sorted({*self.runtime_state.typing, name}))
        loop.call_later(TYPING_SECONDS, lambda: loop.create_task(self._stopped_typing(name)))

    @consumer("chat.stopped_typing")
    async def someone_posted(self, event: dict[str, Any]) -> None:
        """The author's message was posted: stop showing them as typing."""
        name = event["user"]
        self.typing_until.pop(name, None)
        if name in self.runtime_state.typing:
            await self.set_runtime_var("typing", [n for n in self.runtime_state.typing if n != name])

    async def _stopped_typing(self, name: str) -> None:
        if asyncio.get_running_loop().time() < self.typing_until.get(name, 0.0):
            return  # typed again meanwhile: a later timer clears it
        self.typing_until.pop(name, None)
        if name in self.runtime_state.typing:
            await self.set_runtime_var("typing", [n for n in self.runtime_state.typing if n != name])
