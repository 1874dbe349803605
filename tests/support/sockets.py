"""A stand-in for a connection: the frames an operation sends, and the operation itself."""

from __future__ import annotations

from typing import Any

import orjson
from django.contrib.auth.models import AnonymousUser
from graphql import GraphQLError, parse

from schema_bridge.context import RxContext
from schema_bridge.fanout import Operation
from schema_bridge.schema import get_schema_index

QUERY = "subscription { myBoardsChannel { ready } }"


class FakeSocket:
    """The frames an operation sends, in order."""

    def __init__(self, user: Any = None) -> None:
        self.frames: list[str] = []
        self.credentials: tuple[str | None, str | None] = ("Token t", None)
        self.context: RxContext | None = RxContext(user=user if user is not None else AnonymousUser())

    def push(self, frame: str) -> None:
        self.frames.append(frame)

    async def push_wait(self, frame: str) -> None:
        self.frames.append(frame)

    def push_message(self, message: dict[str, Any]) -> None:
        self.frames.append(orjson.dumps(message).decode())

    def send_errors(self, op_id: str, errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> None:
        self.push_message({"id": op_id, "type": "error", "payload": [e.formatted for e in errors]})

    def send_complete(self, op_id: str) -> None:
        self.push_message({"id": op_id, "type": "complete"})

    async def current_user(self) -> Any:
        assert self.context is not None
        return self.context.user

    def messages(self) -> list[dict[str, Any]]:
        return [orjson.loads(frame) for frame in self.frames]


def make_operation(socket: FakeSocket, query: str = QUERY, op_id: str = "1") -> Operation:
    assert socket.context is not None
    return Operation(
        connection=socket,
        id=op_id,
        schema=get_schema_index().schema._schema,
        query=query,
        document=parse(query),
        variables={},
        operation_name=None,
        context=socket.context,
    )
