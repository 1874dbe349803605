"""``@action``: a channel method that becomes a GraphQL mutation, typed from its annotations.

Actions may be sync (run in a thread, so they can use the ORM) or async. The channel's permission is
checked again at every call. Raise :class:`ActionError` (defined with the other errors in
``rxgraphql.errors``) to answer with a message and a machine-readable code; ``PermissionError`` answers
``FORBIDDEN`` and ``ValueError`` ``BAD_REQUEST``.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

from .errors import ActionError

__all__ = ["ActionError", "ActionParameter", "ActionSpec", "action", "collect_actions"]

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__rxgraphql_action__"


@dataclass(frozen=True)
class ActionParameter:
    name: str
    annotation: Any
    has_default: bool
    default: Any


@dataclass(frozen=True)
class ActionSpec:
    """One action of a channel class: the method, its parameters and its return annotation."""

    method_name: str
    function: Callable[..., Any]
    parameters: tuple[ActionParameter, ...]
    returns: Any
    is_async: bool
    description: str | None

    @property
    def pascal_name(self) -> str:
        return "".join(part[:1].upper() + part[1:] for part in re.split(r"_+", self.method_name) if part)


def action(function: F) -> F:
    """Mark a channel method as an action (a mutation named ``<channelField><ActionName>``)."""
    setattr(function, _MARK, True)
    return function


def _spec(name: str, function: Callable[..., Any]) -> ActionSpec:
    try:
        hints = typing.get_type_hints(function)
    except Exception as error:
        raise ImproperlyConfigured(f"action {name}: cannot resolve its annotations ({error})") from error
    parameters = []
    for p in list(inspect.signature(function).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ImproperlyConfigured(f"action {name} cannot take *args or **kwargs")
        if p.name not in hints:
            raise ImproperlyConfigured(f"action {name}: annotate parameter '{p.name}'")
        has_default = p.default is not inspect.Parameter.empty
        parameters.append(
            ActionParameter(p.name, hints[p.name], has_default, p.default if has_default else None)
        )
    if "return" not in hints:
        raise ImproperlyConfigured(f"action {name}: annotate its return type")
    return ActionSpec(
        method_name=name,
        function=function,
        parameters=tuple(parameters),
        returns=hints["return"],
        is_async=inspect.iscoroutinefunction(function),
        description=inspect.getdoc(function),
    )


def collect_actions(cls: type) -> tuple[ActionSpec, ...]:
    """The actions of a channel class, inherited ones included (nearest definition wins)."""
    found: dict[str, ActionSpec] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if callable(value) and getattr(value, _MARK, False):
                found[name] = _spec(name, value)
            elif name in found:
                del found[name]  # overridden by something that is not an action
    return tuple(sorted(found.values(), key=lambda spec: spec.method_name))
