"""List channels (``Meta.state = S(many=True)``): the hooks and methods of a channel showing many anchors.

A list channel streams the state of every anchor ``list_instances()`` names, in that order. While its
subscription is live, ``add_instance`` / ``remove_instance`` / ``clear`` change the list; with
``Meta.auto_update`` every committed save of an anchor-model row asks ``is_visible`` (denies by default)
whether the row belongs in the list, and adds it at the end or removes it accordingly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from django.db import models

from .errors import ErrorCode
from .options import ChannelOptions
from .session import ChannelSession


def anchor_id(value: Any) -> str:
    """An anchor's primary key as the streams spell it, from an instance or a key."""
    if isinstance(value, models.Model):
        value = value.pk
    if value is None:
        raise ValueError("an anchor needs a primary key")
    return str(value)


def anchor_ids(listed: Any) -> list[str]:
    """``list_instances()``'s answer as ordered, distinct ids: a queryset, instances or primary keys.

    Runs in a thread: evaluating a queryset queries the database.
    """
    if isinstance(listed, models.QuerySet):
        listed = listed.values_list("pk", flat=True)
    if not isinstance(listed, Iterable) or isinstance(listed, str | bytes):
        raise TypeError("list_instances() must return a queryset, instances or primary keys")
    return list(dict.fromkeys(anchor_id(item) for item in listed))


class ListChannelMixin:
    """What a ContextChannel offers when its state is a list (``many``)."""

    _meta: ClassVar[ChannelOptions]
    _session: ChannelSession | None

    def list_instances(self, **kwargs: Any) -> Any:
        """The anchors to stream, in order: a queryset, model instances or primary keys. Runs in a thread."""
        raise NotImplementedError(f"{type(self).__name__} must define list_instances()")

    def is_visible(self, instance: Any) -> bool:
        """With ``Meta.auto_update``: whether a saved anchor row belongs in this user's list.

        Called in a thread after each commit that saved an anchor-model row. Denies by default.
        """
        return False

    @property
    def anchor_ids(self) -> list[str]:
        """The ids of the anchors the live subscription streams, in order (empty when not live)."""
        if not type(self)._meta.many or self._session is None:
            return []
        return list(self._session.anchors)

    def _live_list(self) -> ChannelSession:
        if not type(self)._meta.many:
            raise TypeError(f"{type(self).__name__} is not a list channel")
        if self._session is None:
            from .actions import ActionError

            raise ActionError(
                "The list only changes while its subscription is live", ErrorCode.NOT_SUBSCRIBED
            )
        return self._session

    async def add_instance(self, instance: Any, at_start: bool = False) -> bool:
        """Stream one more anchor (an instance or its primary key), at the end or at the start.

        Sends its records and the new anchor order; False when it was already listed or does not exist.
        Checks nothing else: call it for anchors the user may see.
        """
        return await self._live_list().add_anchor(anchor_id(instance), at_start)

    async def remove_instance(self, instance: Any) -> bool:
        """Stop streaming one anchor; its records that no other listed anchor holds are deleted."""
        return await self._live_list().remove_anchor(anchor_id(instance))

    async def clear(self) -> None:
        """Stop streaming every anchor."""
        await self._live_list().clear_anchors()
