"""Opening a channel for a user: argument coercion and the permission check, shared by every transport."""

from __future__ import annotations

import inspect
from contextvars import ContextVar
from typing import Any

import orjson
from channels.db import database_sync_to_async
from graphql import GraphQLError

from rxgraphql.auth import BadCredentials, authenticate_sync
from rxgraphql.channel import ContextChannel, User
from rxgraphql.errors import ErrorCode, RxGraphQLError
from rxgraphql.lists import anchor_ids
from rxgraphql.ownership import filter_nested


class ChannelError(GraphQLError, RxGraphQLError):
    """A refusal as a GraphQL error: its ``code`` in ``extensions.code`` (see ``rxgraphql.errors``)."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        GraphQLError.__init__(self, message, extensions={"code": str(code), **extensions})
        self.code = code

    @classmethod
    def of(cls, refusal: RxGraphQLError) -> ChannelError:
        """The GraphQL error of a core refusal (an ``ActionError`` …)."""
        return refusal if isinstance(refusal, ChannelError) else cls(refusal.message, refusal.code)


# (authorization, session key, user pk) of the socket whose mutation runs in this task: open_channel
# authenticates them again, in the thread of its permission check, so a revoked token acts no more.
socket_credentials: ContextVar[tuple[str | None, str | None, Any] | None] = ContextVar(
    "rxgraphql_socket_credentials", default=None
)


class _Revoked(Exception):
    pass


def _allowed(channel: ContextChannel, user: User, kwargs: dict[str, Any], credentials: Any) -> Any:
    if credentials is not None:
        authorization, session_key, user_pk = credentials
        try:
            current = authenticate_sync(authorization, session_key)
        except BadCredentials:
            raise _Revoked from None
        if current.pk != user_pk:
            raise _Revoked
        user = channel.user = current
    return channel.has_permission(user, **kwargs)


async def open_channel(
    channel_cls: type[ContextChannel], user: User, raw_args: dict[str, Any]
) -> tuple[ContextChannel, str]:
    """A channel instance for this user and the anchor it shows, or a ChannelError.

    For a list channel the second item names the list instead: its arguments, as a key of
    ``RxContext.live_channels``.
    """
    kwargs: dict[str, Any] = {}
    for argument in channel_cls._meta.arguments:
        value = raw_args.get(argument.name)
        try:
            kwargs[argument.name] = argument.coerce(value)
        except (TypeError, ValueError):
            raise ChannelError(f"Invalid value for '{argument.name}'", ErrorCode.BAD_REQUEST) from None
    channel = channel_cls(user, **kwargs)
    try:
        allowed = await database_sync_to_async(_allowed)(channel, user, kwargs, socket_credentials.get())
    except _Revoked:
        raise ChannelError("Your credentials were revoked", ErrorCode.FORBIDDEN) from None
    if allowed is NotImplemented or not allowed:
        raise ChannelError("You do not have permission to watch this channel", ErrorCode.FORBIDDEN)
    if channel_cls._meta.many:
        return channel, list_key(kwargs)
    anchor = channel.get_instance_id(**kwargs)
    if anchor is None:
        raise ChannelError("No such anchor", ErrorCode.NOT_FOUND)
    return channel, str(anchor)


def list_key(kwargs: dict[str, Any]) -> str:
    """The key of a list channel's subscription among a socket's live channels: its arguments."""
    return "list:" + orjson.dumps(kwargs, option=orjson.OPT_SORT_KEYS, default=str).decode()


async def list_anchors(channel: ContextChannel) -> list[str]:
    """The anchors ``list_instances()`` names for this channel instance, in order."""
    method = channel.list_instances
    if inspect.iscoroutinefunction(method):
        listed = await method(**channel.kwargs)
        found: list[str] = await database_sync_to_async(anchor_ids)(listed)
    else:
        found = await database_sync_to_async(lambda: anchor_ids(method(**channel.kwargs)))()
    return found


def _nested_state(channel_cls: type[ContextChannel], anchor: str) -> Any:
    root = channel_cls._meta.layers.root
    instance = root.model._default_manager.filter(pk=anchor).first()
    if instance is None:
        return None
    return root.serializer_class(instance).data


async def nested_state(channel_cls: type[ContextChannel], anchor: str, user: User) -> Any:
    """The serializer's nested output for the anchor (as ``user`` may see it); None when it does not exist."""
    data = await database_sync_to_async(_nested_state)(channel_cls, anchor)
    if data is None or not channel_cls._meta.per_user:
        return data
    user_id = None if user.pk is None else str(user.pk)
    return filter_nested(data, channel_cls._meta.layers.root, user_id)


async def nested_states(channel: ContextChannel, user: User) -> list[Any]:
    """A list channel's nested states, in ``list_instances()`` order (anchors gone meanwhile left out)."""
    channel_cls = type(channel)
    anchors = await list_anchors(channel)

    def read() -> list[Any]:
        return [data for data in (_nested_state(channel_cls, a) for a in anchors) if data is not None]

    states: list[Any] = await database_sync_to_async(read)()
    if not channel_cls._meta.per_user:
        return states
    user_id = None if user.pk is None else str(user.pk)
    return [filter_nested(data, channel_cls._meta.layers.root, user_id) for data in states]
