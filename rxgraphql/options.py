"""A channel's options: ``cls._meta``, built from its ``Meta`` and validated as Django validates a model's.

Everything rxgraphql derives from a channel class (its layers, names, arguments, actions, writable layers)
lives on this one object, so that no derived attribute lands on the user's class: a channel method named
``actions``, ``layers`` or ``writable`` shadows nothing. ``Meta`` accepts the keys of ``META_OPTIONS``
only; a typo (``writeable``, ``autoupdate``) raises ``ImproperlyConfigured`` naming it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from .actions import ActionSpec, collect_actions
from .consumers import collect_consumers
from .layers import LayerGraph
from .writes import WritableLayer, writable_layers

if TYPE_CHECKING:
    from django.db import models

#: The options a channel's ``Meta`` may set.
META_OPTIONS = ("abstract", "auto_update", "cache_ttl", "recheck_on", "state", "writable")


@dataclass(frozen=True)
class ChannelArgument:
    """One argument of a channel's subscription: a parameter of ``has_permission``."""

    name: str
    annotation: Any
    is_id: bool
    optional: bool

    def coerce(self, value: Any) -> Any:
        """Turn the GraphQL value into the annotated Python type (IDs arrive as strings)."""
        if value is None:
            return None
        target = self.annotation
        if target in (int, float, str, bool) and not isinstance(value, target):
            return target(value)
        return value


@dataclass(frozen=True)
class ChannelOptions:
    """What rxgraphql knows of one concrete channel class (``cls._meta``)."""

    #: ``module.QualName``: the channel's identity in caches, topics and the registry
    channel_name: str
    #: the GraphQL field of the subscription and the query (``BoardChannel`` -> ``boardChannel``)
    field_name: str
    #: the root serializer (the child of ``Meta.state`` for a list channel)
    state: serializers.ModelSerializer[Any]
    #: a list channel (``Meta.state = S(many=True)``)
    many: bool
    auto_update: bool
    #: seconds the records stay cached after the last subscriber leaves; None: ``CACHE_TTL``
    cache_ttl: float | None
    recheck_on: tuple[type[models.Model], ...]
    layers: LayerGraph
    #: some layer has ``Meta.user_key``: records are filtered per user
    per_user: bool
    arguments: tuple[ChannelArgument, ...]
    actions: tuple[ActionSpec, ...]
    #: channel-layer event type -> method name
    consumers: dict[str, str]
    writable: dict[str, WritableLayer]


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def is_abstract(cls: type) -> bool:
    """Whether ``cls`` declares ``Meta.abstract = True`` itself (its options are not built)."""
    meta = cls.__dict__.get("Meta")
    return bool(getattr(meta, "abstract", False))


def check_meta_keys(cls: type, meta: type) -> None:
    unknown = sorted(name for name in vars(meta) if not name.startswith("_") and name not in META_OPTIONS)
    if unknown:
        raise ImproperlyConfigured(
            f"{cls.__qualname__}.Meta has unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)}; the options are {', '.join(META_OPTIONS)}"
        )


def _arguments(cls: type, many: bool, base: type) -> tuple[ChannelArgument, ...]:
    hooks = ("has_permission", "list_instances") if many else ("has_permission", "get_instance_id")
    for hook in hooks:
        if _inherits(cls, base, hook):
            continue
        method: Callable[..., Any] = getattr(cls, hook)
        hints = typing.get_type_hints(method)
        params = [
            p
            for p in inspect.signature(method).parameters.values()
            if p.name not in ("self", "user") and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
        ]
        found = []
        for p in params:
            annotation = hints.get(p.name, str)
            optional = False
            args = typing.get_args(annotation)
            if type(None) in args:
                optional = True
                annotation = next(a for a in args if a is not type(None))
            is_id = p.name == "id" or p.name.endswith("_id")
            found.append(ChannelArgument(p.name, annotation, is_id, optional))
        return tuple(found)
    return () if many else (ChannelArgument("id", str, True, False),)


def _inherits(cls: type, base: type, hook: str) -> bool:
    """Whether ``cls`` leaves ``base``'s default of the hook ``hook`` in place."""
    return bool(getattr(cls, hook) is getattr(base, hook))


def build_options(cls: type, base: type) -> ChannelOptions:
    """Validate ``cls.Meta`` and derive the channel's options; ``base`` is ``ContextChannel`` (its hooks
    are the defaults a channel may leave undefined)."""
    meta = cls.__dict__["Meta"]
    name = cls.__qualname__
    state = getattr(meta, "state", None)
    many = isinstance(state, serializers.ListSerializer)
    if many:
        assert isinstance(state, serializers.ListSerializer)
        state = state.child
        if _inherits(cls, base, "list_instances"):
            raise ImproperlyConfigured(f"{name} is a list channel: define list_instances()")
    auto_update = bool(getattr(meta, "auto_update", False))
    if auto_update and not many:
        raise ImproperlyConfigured(
            f"{name}: Meta.auto_update needs a list channel (Meta.state = S(many=True))"
        )
    if not isinstance(state, serializers.ModelSerializer):
        raise ImproperlyConfigured(f"{name}.Meta.state must be a ModelSerializer instance, got {state!r}")
    layers = LayerGraph(state)
    arguments = _arguments(cls, many, base)
    if not many and len(arguments) != 1 and _inherits(cls, base, "get_instance_id"):
        raise ImproperlyConfigured(f"{name} has several arguments: define get_instance_id(**kwargs)")
    actions = collect_actions(cls)
    runtime = getattr(cls, "RuntimeState", None)
    if runtime is not None and not dataclasses.is_dataclass(runtime):
        raise ImproperlyConfigured(f"{name}.RuntimeState must be a dataclass")
    own = {a.name for a in arguments}
    for spec in actions:
        clash = own.intersection(p.name for p in spec.parameters)
        if clash:
            raise ImproperlyConfigured(
                f"{name}.{spec.method_name}: parameter {sorted(clash)[0]!r} is already an argument "
                "of the channel"
            )
    ttl = getattr(meta, "cache_ttl", None)
    declared = getattr(meta, "recheck_on", None) or ()  # check E102 reports anything but model classes
    return ChannelOptions(
        channel_name=f"{cls.__module__}.{name}",
        field_name=_camel(re.sub(r"\W", "", cls.__name__)),
        state=state,
        many=many,
        auto_update=auto_update,
        cache_ttl=None if ttl is None else float(ttl),
        recheck_on=tuple(declared) if isinstance(declared, list | tuple) else (),
        layers=layers,
        per_user=any(layer.user_key is not None for layer in layers),
        arguments=arguments,
        actions=actions,
        consumers=collect_consumers(cls),
        writable=writable_layers(name, layers, getattr(meta, "writable", None)),
    )
