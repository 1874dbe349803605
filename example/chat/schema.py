"""GraphQL mutations of the chat app; subscribers see their effects through ChatRoomChannel."""

from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from django.db import transaction

from chat.models import ChatRoom, Message


@strawberry.type
class PostedMessage:
    """What ``postMessage`` returns: the new message's id (its content arrives live)."""

    id: strawberry.ID


def _create_message(user: Any, room_id: str, text: str) -> Message:
    """Store a message after checking that ``user`` takes part in the room."""
    if not user.is_authenticated:
        raise PermissionError("Sign in to post messages.")
    if not str(room_id).isdigit():
        raise ValueError("roomId must be a numeric id.")
    with transaction.atomic():
        room = ChatRoom.objects.filter(pk=room_id, participants=user).first()
        if room is None:
            raise PermissionError("You are not a participant of this chat room.")
        return Message.objects.create(room=room, author=user, text=text)


async def resolve_post_message(
    info: strawberry.Info, room_id: strawberry.ID, text: str
) -> PostedMessage:
    """Validate the text, then create the message in a worker thread."""
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("A message cannot be empty.")
    message = await sync_to_async(_create_message)(info.context.user, room_id, cleaned)
    return PostedMessage(id=strawberry.ID(str(message.pk)))


@strawberry.type
class ChatMutation:
    """Chat mutations merged into the project's ``Mutation``."""

    post_message: PostedMessage = strawberry.mutation(
        resolver=resolve_post_message, description="Post a message to a room you take part in."
    )
