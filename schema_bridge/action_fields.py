"""Mutation fields for channel actions: ``<channelField><ActionName>(<channel args>, <action params>)``.

Each call opens the channel for the caller, which checks ``has_permission`` again; when the mutation
arrives on a websocket that carries a live subscription of the same anchor, the action runs on that
subscription's channel instance.
"""

from __future__ import annotations

import inspect
from typing import Any

import strawberry
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError

from rxgraphql.actions import ActionSpec
from rxgraphql.channel import ContextChannel
from rxgraphql.errors import ActionError, ErrorCode

from .access import ChannelError, open_channel
from .channel_fields import _argument_annotation, _with_signature
from .python_types import mapped


def live_channel(context: Any, channel_cls: type[ContextChannel], anchor: str) -> ContextChannel | None:
    """The channel instance of a live subscription on the caller's websocket, if any."""
    live: dict[tuple[str, str], ContextChannel] = getattr(context, "live_channels", None) or {}
    return live.get((channel_cls._meta.channel_name, anchor))


def _call(channel: ContextChannel, spec: ActionSpec, params: dict[str, Any]) -> Any:
    method = getattr(channel, spec.method_name)
    if spec.is_async:
        return method(**params)
    return database_sync_to_async(method)(**params)


def action_field(channel_cls: type[ContextChannel], spec: ActionSpec) -> tuple[str, Any]:
    """(GraphQL field name, strawberry mutation) of one action."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("info", keyword, annotation=strawberry.Info)]
    for argument in channel_cls._meta.arguments:
        params.append(inspect.Parameter(argument.name, keyword, annotation=_argument_annotation(argument)))
    conversions = {}
    for parameter in spec.parameters:
        kind = mapped(parameter.annotation)
        conversions[parameter.name] = kind.to_python
        default = parameter.default if parameter.has_default else inspect.Parameter.empty
        params.append(inspect.Parameter(parameter.name, keyword, annotation=kind.annotation, default=default))
    returned = mapped(spec.returns)
    channel_names = {a.name for a in channel_cls._meta.arguments}

    async def resolve(info: strawberry.Info, **kwargs: Any) -> Any:
        user = getattr(info.context, "user", None) or AnonymousUser()
        channel_args = {name: kwargs.pop(name) for name in channel_names}
        channel, anchor = await open_channel(channel_cls, user, channel_args)
        channel = live_channel(info.context, channel_cls, anchor) or channel
        values = {name: conversions[name](value) for name, value in kwargs.items()}
        try:
            result = await _call(channel, spec, values)
        except ActionError as refusal:
            raise ChannelError.of(refusal) from None
        except (PermissionError, PermissionDenied) as refusal:
            raise ChannelError(str(refusal) or "Permission denied", ErrorCode.FORBIDDEN) from None
        except (ValueError, ValidationError) as refusal:
            raise ChannelError(str(refusal) or "Invalid input", ErrorCode.BAD_REQUEST) from None
        return returned.to_graphql(result)

    name = channel_cls._meta.field_name + spec.pascal_name
    resolver = _with_signature(resolve, params, returned.annotation)
    field = strawberry.mutation(resolver=resolver, name=name, description=spec.description)
    return name, field


def action_fields(channels: list[type[ContextChannel]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for channel_cls in channels:
        for spec in channel_cls._meta.actions:
            name, field = action_field(channel_cls, spec)
            fields[name] = field
    return fields
