"""``ContextChannel``: the class a project writes to turn one nested serializer into a live API."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured

from .lists import ListChannelMixin
from .options import ChannelOptions, build_options, check_meta_keys, is_abstract
from .session import LiveChannelMixin

User = AbstractBaseUser | AnonymousUser


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

    #: Everything derived from ``Meta`` (see :mod:`rxgraphql.options`); absent on an abstract channel.
    _meta: ClassVar[ChannelOptions]

    class Meta:
        abstract = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        meta = cls.__dict__.get("Meta")
        if meta is None:
            raise ImproperlyConfigured(f"{cls.__qualname__} must define an inner class Meta")
        check_meta_keys(cls, meta)
        if is_abstract(cls):
            return
        cls._meta = build_options(cls, ContextChannel)
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

        publish_notice(anchor_topic(cls._meta.channel_name, str(anchor_id)), notification, user_id)
