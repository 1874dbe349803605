"""The error vocabulary the server and the TypeScript client share: codes, close codes, one exception base.

Every refusal the library answers carries a machine-readable code: ``extensions.code`` of a GraphQL
error, or, for a declared write, the HTTP-like ``code`` of its result (:attr:`ErrorCode.status`). A
websocket the server ends is closed with a :class:`CloseCode`. ``codegen/runtime/errors.ts`` mirrors
both lists (``ServerErrorCodes``, ``CloseCodes``); a test checks that they agree.

The exceptions::

    RxGraphQLError          a refusal: ``message`` and ``code`` (an ErrorCode, or a project's own string)
     ├── ActionError        raised by an ``@action`` (rxgraphql.actions); BAD_REQUEST unless told
     ├── WriteRefused       a declared write refused (rxgraphql.writes); becomes its WriteOutcome
     └── ChannelError       the refusal as a GraphQL error as well (schema_bridge.access)
          └── LimitError    LIMIT_EXCEEDED; ``extensions.limit`` names the setting (schema_bridge.limits)

Codes are plain strings on the wire: :class:`ErrorCode` is a ``StrEnum``, so a member compares equal to
its value and a project may raise ``ActionError`` with a code of its own.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["ActionError", "CloseCode", "ErrorCode", "RxGraphQLError", "WriteRefused", "status_of"]


class ErrorCode(enum.StrEnum):
    """``extensions.code`` of the refusals the library answers."""

    #: Invalid arguments or input (a channel argument that does not coerce, a serializer's field errors).
    BAD_REQUEST = "BAD_REQUEST"
    #: ``has_permission`` (or ``can_save`` …) said no, or the socket's credentials were revoked.
    FORBIDDEN = "FORBIDDEN"
    #: No such anchor, or no such record inside the channel's anchor.
    NOT_FOUND = "NOT_FOUND"
    #: A list channel changed (``add_instance`` …) while no subscription of it is live.
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
    #: A request, document or operation beyond one of the ``RXGRAPHQL`` limits (``extensions.limit``).
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"

    @property
    def status(self) -> int:
        """The HTTP status of the code: the ``code`` of a write result, the status of an HTTP refusal."""
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_SUBSCRIBED: 409,
    ErrorCode.LIMIT_EXCEEDED: 413,
}


def status_of(code: str) -> int:
    """The HTTP status of a refusal's code; a project's own code (an ``ActionError``'s) is a 400."""
    try:
        return ErrorCode(code).status
    except ValueError:
        return ErrorCode.BAD_REQUEST.status


class CloseCode(enum.IntEnum):
    """Codes the server closes a websocket with (graphql-transport-ws's 44xx and RFC 6455's own)."""

    #: No pong within ``PONG_TIMEOUT``.
    GOING_AWAY = 1001
    #: A client message beyond ``MAX_FRAME_BYTES``.
    MESSAGE_TOO_BIG = 1009
    #: The client left too much unread (``SEND_QUEUE_SIZE``, ``SEND_BUFFER_BYTES``); it may resume.
    TRY_AGAIN_LATER = 1013
    #: A message that is not graphql-transport-ws.
    BAD_REQUEST = 4400
    #: ``subscribe`` before the connection was acknowledged.
    UNAUTHORIZED = 4401
    #: Credentials that match no user, or an origin that may not open the socket.
    FORBIDDEN = 4403
    #: A websocket on a path that serves none.
    NOT_FOUND = 4404
    #: The client offered no subprotocol the server speaks.
    SUBPROTOCOL_NOT_ACCEPTABLE = 4406
    #: No ``connection_init`` within ``CONNECTION_INIT_TIMEOUT``.
    INIT_TIMEOUT = 4408
    #: A ``subscribe`` reusing the id of a running operation.
    SUBSCRIBER_EXISTS = 4409
    #: A second ``connection_init``.
    TOO_MANY_INIT = 4429


class RxGraphQLError(Exception):
    """A refusal with a message for people and a machine-readable ``code`` (``extensions.code``)."""

    def __init__(self, message: str, code: str = ErrorCode.BAD_REQUEST) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ActionError(RxGraphQLError):
    """An action's refusal: ``message`` and ``code`` reach the client in ``extensions.code``."""


class WriteRefused(RxGraphQLError):
    """A declared write refused; ``errors`` holds the serializer's field errors of invalid data."""

    def __init__(self, message: str, code: ErrorCode, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message, code)
        self.errors = errors
