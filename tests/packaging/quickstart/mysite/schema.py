"""The project's own mutation, merged into the schema through ``RXGRAPHQL["MUTATION"]``."""

import strawberry
from asgiref.sync import sync_to_async
from chat.models import ChatRoom, Message


def _post(user: object, room_id: str, text: str) -> int:
    room = ChatRoom.objects.filter(pk=room_id, participants=user).first()
    if room is None:
        raise PermissionError("You are not a participant of this chat room.")
    return Message.objects.create(room=room, author=user, text=text).pk


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def post_message(self, info: strawberry.Info, room_id: strawberry.ID, text: str) -> strawberry.ID:
        return strawberry.ID(str(await sync_to_async(_post)(info.context.user, str(room_id), text)))
