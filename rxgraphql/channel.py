"""``ContextChannel``: the class a project writes to turn one nested serializer into a live API."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from .actions import ActionSpec, collect_actions
from .consumers import collect_consumers
from .layers import LayerGraph
from .lists import ListChannelMixin
from .session import LiveChannelMixin
from .writes import WritableLayer, writable_layers

User = AbstractBaseUser | AnonymousUser

#: The options a channel's ``Meta`` may set (anything else is a typo, refused like Django refuses one).
META_OPTIONS = ("abstract", "auto_update", "cache_ttl", "recheck_on", "state", "writable")


def _check_meta_options(cls: type, meta: type) -> None:
    unknown = sorted(name for name in vars(meta) if not name.startswith("_") and name not in META_OPTIONS)
    if unknown:
        raise ImproperlyConfigured(
            f"{cls.__qualname__}.Meta has unknown option{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)}; the options are {', '.join(META_OPTIONS)}"
        )


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


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _arguments(cls: type[ContextChannel]) -> tuple[ChannelArgument, ...]:
    hooks = ("has_permission", "list_instances") if cls.many else ("has_permission", "get_instance_id")
    for hook in hooks:
        method = getattr(cls, hook)
        if method is getattr(ContextChannel, hook):
            continue
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
    return () if cls.many else (ChannelArgument("id", str, True, False),)


class ContextChannel(ListChannelMixin, LiveChannelMixin):
    """A live view of one anchor (the instance rendered by ``Meta.state``) or of a list of anchors.

    Subclass it in ``<app>/channels.py``::

        class BoardChannel(ContextChannel):
            class Meta:
                state = BoardSerializer()

            def has_permission(self, user, board_id: int) -> bool:
                return Board.objects.filter(pk=board_id, members=user).exists()

    With ``state = BoardSerializer(many=True)`` it is a list channel: define ``list_instances()``
    (see :mod:`rxgraphql.lists`). Every permission hook denies by default.
    """

    layers: ClassVar[LayerGraph]
    channel_name: ClassVar[str]
    field_name: ClassVar[str]
    arguments: ClassVar[tuple[ChannelArgument, ...]]
    actions: ClassVar[tuple[ActionSpec, ...]]
    consumers: ClassVar[dict[str, str]]
    per_user: ClassVar[bool]  # some layer has Meta.user_key: records are filtered per user
    writable: ClassVar[dict[str, WritableLayer]]
    cache_ttl: ClassVar[float | None]

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta")
        if meta is None:
            raise ImproperlyConfigured(f"{cls.__qualname__} must define an inner class Meta")
        _check_meta_options(cls, meta)
        if getattr(meta, "abstract", False):
            return
        state = getattr(meta, "state", None)
        cls.many = isinstance(state, serializers.ListSerializer)
        if cls.many:
            assert isinstance(state, serializers.ListSerializer)
            state = state.child
            if cls.list_instances is ContextChannel.list_instances:
                raise ImproperlyConfigured(f"{cls.__qualname__} is a list channel: define list_instances()")
        cls.auto_update = bool(getattr(meta, "auto_update", False))
        if cls.auto_update and not cls.many:
            raise ImproperlyConfigured(
                f"{cls.__qualname__}: Meta.auto_update needs a list channel (Meta.state = S(many=True))"
            )
        if not isinstance(state, serializers.ModelSerializer):
            raise ImproperlyConfigured(
                f"{cls.__qualname__}.Meta.state must be a ModelSerializer instance, got {state!r}"
            )
        cls.layers = LayerGraph(state)
        cls.per_user = any(layer.user_key is not None for layer in cls.layers)
        cls.channel_name = f"{cls.__module__}.{cls.__qualname__}"
        cls.field_name = _camel(re.sub(r"\W", "", cls.__name__))
        cls.arguments = _arguments(cls)
        if not cls.many and len(cls.arguments) != 1 and cls.get_instance_id is ContextChannel.get_instance_id:
            raise ImproperlyConfigured(
                f"{cls.__qualname__} has several arguments: define get_instance_id(**kwargs)"
            )
        cls.writable = writable_layers(cls.__qualname__, cls.layers, getattr(meta, "writable", None))
        cls.actions = collect_actions(cls)
        cls.consumers = collect_consumers(cls)
        runtime = getattr(cls, "RuntimeState", None)
        if runtime is not None and not dataclasses.is_dataclass(runtime):
            raise ImproperlyConfigured(f"{cls.__qualname__}.RuntimeState must be a dataclass")
        own = {a.name for a in cls.arguments}
        for spec in cls.actions:
            clash = own.intersection(p.name for p in spec.parameters)
            if clash:
                raise ImproperlyConfigured(
                    f"{cls.__qualname__}.{spec.method_name}: parameter {sorted(clash)[0]!r} is already "
                    "an argument of the channel"
                )
        ttl = getattr(meta, "cache_ttl", None)
        cls.cache_ttl = None if ttl is None else float(ttl)
        from .registry import registry

        registry.register(cls)

    def __init__(self, user: User, **kwargs: Any) -> None:
        self.user = user
        self.kwargs = kwargs
        self._init_live()

    def has_permission(self, user: User, **kwargs: Any) -> bool:
        """Whether ``user`` may watch the anchor named by the arguments. Runs in a thread."""
        return False

    def can_save(self, instance: Any, data: dict[str, Any]) -> bool:
        """Whether the user may save ``data`` (validated) into ``instance``; runs inside the write."""
        return False

    def can_create(self, model: type[Any], data: dict[str, Any]) -> bool:
        """Whether the user may create a ``model`` row from ``data`` (validated)."""
        return False

    def can_delete(self, instance: Any) -> bool:
        """Whether the user may delete ``instance``."""
        return False

    def can_reference(self, field: str, target: Any) -> bool:
        """Whether a write may set the nested child ``field`` to ``target``, a row this channel does not
        show yet (a user assigned for the first time). Children it already shows need no permission."""
        return False

    def get_instance_id(self, **kwargs: Any) -> Any:
        """The anchor's primary key, from the subscription arguments."""
        (value,) = kwargs.values()
        return value

    @classmethod
    def broadcast_notification(
        cls, anchor_id: Any, notification: dict[str, Any], user_id: Any = None
    ) -> None:
        """Send ``notification`` to the subscribers of one anchor (or to one user's subscriptions of it).

        From any thread; from any process when the broker is shared. Not cached and not replayed on resume.
        """
        from .notices import publish_notice
        from .stream import anchor_topic

        publish_notice(anchor_topic(cls.channel_name, str(anchor_id)), notification, user_id)
