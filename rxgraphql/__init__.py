"""rxgraphql: nested DRF serializers as live GraphQL state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["ActionError", "ContextChannel", "action", "touch"]

if TYPE_CHECKING:
    from .actions import ActionError, action
    from .changes import touch
    from .channel import ContextChannel


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``rxgraphql`` can sit in INSTALLED_APPS before the app registry is ready.
    if name == "ContextChannel":
        from .channel import ContextChannel

        return ContextChannel
    if name in ("action", "ActionError"):
        from . import actions

        return getattr(actions, name)
    if name == "touch":
        from .changes import touch

        return touch
    raise AttributeError(name)
