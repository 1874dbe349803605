"""One channel subscription's ``subscribe`` message, as every stage of its pipeline sees it.

Like strawberry's ``Operation`` in its graphql-transport-ws handler, one object carries what a
subscribe names (its socket, id, document, variables and context) to every stage of the pipeline
instead of loose parameters, and frames the payloads rendered for it. :class:`Socket` is the one thing
the pipeline needs of a connection (websocket.py implements it): frames out, and the user's
credentials as they stand now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from graphql import DocumentNode, GraphQLError, GraphQLSchema

from .context import RxContext
from .error_log import log_refusal


class Socket(Protocol):
    """The connection an operation's frames go out on."""

    credentials: tuple[str | None, str | None]
    context: RxContext | None

    def push(self, frame: str) -> None:
        """Send a live frame (a client too slow to read it is disconnected)."""

    async def push_wait(self, frame: str) -> None:
        """Send a frame once the client has read enough (a snapshot only slows its own socket)."""

    def push_message(self, message: dict[str, Any]) -> None: ...

    def send_errors(self, op_id: str, errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> None: ...

    def send_complete(self, op_id: str) -> None: ...

    async def current_user(self) -> Any:
        """The socket's user as its credentials stand now (None when they were revoked)."""


@dataclass(eq=False)
class Operation:
    """One subscribe of one socket."""

    connection: Socket
    id: str
    schema: GraphQLSchema
    query: str
    document: DocumentNode
    variables: dict[str, Any]
    operation_name: str | None
    context: RxContext
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        self.prefix = '{"id":' + orjson.dumps(self.id).decode() + ',"type":"next","payload":'

    @property
    def user_id(self) -> str | None:
        """The primary key of the socket's user as the streams spell it; None when anonymous."""
        pk = self.context.user.pk
        return None if pk is None else str(pk)

    def frame(self, payload: str) -> str:
        """The ``next`` message carrying a payload rendered for this operation."""
        return self.prefix + payload + "}"

    def push(self, payload: str) -> None:
        self.connection.push(self.frame(payload))

    async def push_wait(self, payload: str) -> None:
        await self.connection.push_wait(self.frame(payload))

    def send_errors(self, errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> None:
        self.connection.send_errors(self.id, errors)

    def refuse(self, refusal: GraphQLError) -> None:
        """End the operation with one error (``data: null``) and ``complete``."""
        log_refusal(refusal, where="subscription")
        self.connection.push_message(
            {"id": self.id, "type": "next", "payload": {"data": None, "errors": [refusal.formatted]}}
        )
        self.connection.send_complete(self.id)
