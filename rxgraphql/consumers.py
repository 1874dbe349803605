"""``@consumer("event.type")``: channel methods that handle Django channel-layer events.

A channel instance joins groups with ``await self.group_add(name)`` (typically in ``on_connect``); every
event sent to such a group with ``channel_layer.group_send(name, {"type": "event.type", ...})`` is handed
to the method registered for its type. Each method keeps its own event type, inherited ones included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__rxgraphql_consumer__"


def consumer(event_type: str) -> Callable[[F], F]:
    """Mark a channel method as the handler of channel-layer events of ``event_type``."""
    if not isinstance(event_type, str) or not event_type:
        raise ImproperlyConfigured("@consumer needs the event type, e.g. @consumer('chat.typing')")

    def mark(function: F) -> F:
        setattr(function, _MARK, event_type)
        return function

    return mark


def collect_consumers(cls: type) -> dict[str, str]:
    """Event type -> method name, for a channel class and its bases (nearest definition wins)."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        own: dict[str, str] = {}
        for name, value in vars(klass).items():
            event_type = getattr(value, _MARK, None)
            if event_type is None:
                continue
            if event_type in own:
                raise ImproperlyConfigured(
                    f"{klass.__qualname__}: {own[event_type]} and {name} both consume {event_type!r}"
                )
            own[event_type] = name
        found.update(own)
    return found
