"""The context object every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rxgraphql.channel import User


@dataclass(frozen=True)
class ConnectionRequest:
    """What ``info.context.request`` is on a websocket: the socket has no request per operation, but
    libraries such as strawberry-django read the user from ``request.user``."""

    user: User


@dataclass
class RxContext:
    """``user`` is always set (AnonymousUser when nobody signed in).

    ``request`` is the Starlette request over HTTP and a :class:`ConnectionRequest` on a websocket; both
    answer ``request.user`` with ``user`` (strawberry-django's permission extensions and
    ``get_current_user`` read it there, as they do on Django's own request).
    """

    user: User
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    # Channel instances of the live subscriptions of this websocket, by (channel name, anchor).
    live_channels: dict[tuple[str, str], Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.request is None:
            self.request = ConnectionRequest(self.user)
        elif isinstance(getattr(self.request, "scope", None), dict):
            # Starlette's ``Request.user`` reads the ASGI scope, as Channels' AuthMiddleware fills it.
            self.request.scope["user"] = self.user
