"""The context object every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rxgraphql.channel import User


@dataclass
class RxContext:
    """``user`` is always set (AnonymousUser when nobody signed in); ``request`` is None on websockets."""

    user: User
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] = field(default_factory=dict)
    # Channel instances of the live subscriptions of this websocket, by (channel name, anchor).
    live_channels: dict[tuple[str, str], Any] = field(default_factory=dict)
