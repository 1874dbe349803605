"""rxgraphql: nested DRF serializers as live GraphQL state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["CREATE", "DELETE", "SAVE", "ActionError", "ContextChannel", "Operation", "action", "touch"]

if TYPE_CHECKING:
    from .actions import ActionError, action
    from .changes import touch
    from .channel import ContextChannel
    from .writes import CREATE, DELETE, SAVE, Operation


def __getattr__(name: str) -> Any:
    # Imported lazily so that ``rxgraphql`` can sit in INSTALLED_APPS before the app registry is ready.
    if name == "ContextChannel":
        from .channel import ContextChannel

        return ContextChannel
    if name in ("action", "ActionError"):
        from . import actions

        return getattr(actions, name)
    if name in ("SAVE", "CREATE", "DELETE", "Operation"):
        from . import writes

        return getattr(writes, name)
    if name == "touch":
        from .changes import touch

        return touch
    raise AttributeError(name)
