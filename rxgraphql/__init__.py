"""rxgraphql: nested DRF serializers as live GraphQL state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ContextChannel", "touch"]

if TYPE_CHECKING:
    from .changes import touch
    from .channel import ContextChannel


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``rxgraphql`` can sit in INSTALLED_APPS before the app registry is ready.
    if name == "ContextChannel":
        from .channel import ContextChannel

        return ContextChannel
    if name == "touch":
        from .changes import touch

        return touch
    raise AttributeError(name)
