"""rxgraphql: nested DRF serializers as live GraphQL state."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = [
    "CREATE",
    "DELETE",
    "SAVE",
    "ActionError",
    "CloseCode",
    "ContextChannel",
    "ErrorCode",
    "Operation",
    "RxGraphQLError",
    "action",
    "consumer",
    "reads",
    "touch",
    "wait_propagated",
]

if TYPE_CHECKING:
    from .actions import action
    from .capture import wait_propagated
    from .changes import touch
    from .channel import ContextChannel
    from .consumers import consumer
    from .errors import ActionError, CloseCode, ErrorCode, RxGraphQLError
    from .method_reads import reads
    from .writes import CREATE, DELETE, SAVE, Operation

# Imported lazily so that ``rxgraphql`` can sit in INSTALLED_APPS before the app registry is ready.
_HOMES = {
    "ActionError": ".errors",
    "CloseCode": ".errors",
    "ErrorCode": ".errors",
    "RxGraphQLError": ".errors",
    "action": ".actions",
    "touch": ".changes",
    "wait_propagated": ".capture",
    "ContextChannel": ".channel",
    "consumer": ".consumers",
    "reads": ".method_reads",
    "CREATE": ".writes",
    "DELETE": ".writes",
    "SAVE": ".writes",
    "Operation": ".writes",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(name)
    return getattr(import_module(home, __name__), name)
