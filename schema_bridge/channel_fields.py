"""Per channel: the event type its subscription streams, the subscription field and the query field."""

from __future__ import annotations

import inspect
import typing
from collections.abc import AsyncGenerator
from typing import Annotated, Any, Union

import strawberry
from django.contrib.auth.models import AnonymousUser
from strawberry.scalars import JSON

from rxgraphql.channel import ContextChannel
from rxgraphql.errors import ErrorCode
from rxgraphql.options import ChannelArgument

from .access import ChannelError, nested_state, nested_states, open_channel
from .layer_types import LayerTypes, RecordRef
from .python_types import mapped

__all__ = ["ChannelFields", "RecordRef"]


def _argument_annotation(argument: ChannelArgument) -> Any:
    base = strawberry.ID if argument.is_id else argument.annotation
    return typing.Optional[base] if argument.optional else base  # noqa: UP045


def _with_signature(func: Any, params: list[inspect.Parameter], returns: Any) -> Any:
    func.__signature__ = inspect.Signature(params, return_annotation=returns)
    func.__annotations__ = {p.name: p.annotation for p in params} | {"return": returns}
    return func


def _parameters(channel_cls: type[ContextChannel], with_since: bool) -> list[inspect.Parameter]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("info", keyword, annotation=strawberry.Info)]
    for argument in channel_cls._meta.arguments:
        default = None if argument.optional else inspect.Parameter.empty
        params.append(
            inspect.Parameter(
                argument.name, keyword, annotation=_argument_annotation(argument), default=default
            )
        )
    if with_since:
        params.append(
            inspect.Parameter("since", keyword, annotation=typing.Optional[str], default=None)  # noqa: UP045
        )
    return params


class ChannelFields:
    """The strawberry fields of one channel."""

    def __init__(self, channel_cls: type[ContextChannel], layer_types: LayerTypes) -> None:
        self.channel_cls = channel_cls
        name = channel_cls.__name__
        members: Any = tuple(layer_types.flat_type(layer) for layer in channel_cls._meta.layers)
        for layer in channel_cls._meta.layers:
            layer_types.ref_type(layer)
        record_union: Any = Annotated[
            Union[members],  # noqa: UP007
            strawberry.union(f"{name}Record", description=f"A flat record of {name}'s state."),
        ]
        self.event_type: type = strawberry.type(
            type(
                f"{name}Event",
                (),
                {
                    "__annotations__": {
                        "cursor": str,
                        "reset": bool,
                        "ready": bool,
                        "records": list[record_union],
                        "deleted": list[RecordRef],
                        "notifications": list[JSON],
                        **self._anchors_annotation(channel_cls),
                        **self._runtime_annotation(channel_cls),
                    }
                },
            ),
            name=f"{name}Event",
            description=(
                f"One event of {name}: a snapshot batch (reset on the first, ready on the last) "
                "or a live patch of upserted records and deleted refs."
            ),
        )
        self.nested_type = layer_types.nested_type(channel_cls._meta.layers.root)

    @staticmethod
    def _anchors_annotation(channel_cls: type[ContextChannel]) -> dict[str, Any]:
        """``anchors``: a list channel's anchor ids in order, with each change of the list (else null)."""
        if not channel_cls._meta.many:
            return {}
        return {"anchors": typing.Optional[list[strawberry.ID]]}  # noqa: UP045

    @staticmethod
    def _runtime_annotation(channel_cls: type[ContextChannel]) -> dict[str, Any]:
        """``runtime``: the subscription's runtime state, sent first and after every change (else null)."""
        if channel_cls.RuntimeState is None:
            return {}
        runtime = mapped(channel_cls.RuntimeState, f"{channel_cls.__name__}RuntimeState")
        return {"runtime": typing.Optional[runtime.annotation]}  # noqa: UP045

    def subscription_field(self) -> Any:
        channel_cls = self.channel_cls

        async def subscribe(info: strawberry.Info, **kwargs: Any) -> AsyncGenerator[Any, None]:
            raise ChannelError(
                f"{channel_cls._meta.field_name} is served over the graphql-transport-ws websocket",
                ErrorCode.BAD_REQUEST,
            )
            yield  # pragma: no cover

        event_type: Any = self.event_type
        resolver = _with_signature(
            subscribe, _parameters(channel_cls, True), AsyncGenerator[event_type, None]
        )
        return strawberry.subscription(
            resolver=resolver,
            name=channel_cls._meta.field_name,
            description=(channel_cls.__doc__ or f"Live state of {channel_cls.__name__}").strip(),
        )

    def query_field(self) -> Any:
        channel_cls = self.channel_cls

        async def resolve(info: strawberry.Info, **kwargs: Any) -> Any:
            user = getattr(info.context, "user", None) or AnonymousUser()
            channel, anchor = await open_channel(channel_cls, user, kwargs)
            if channel_cls._meta.many:
                return await nested_states(channel, user)
            data = await nested_state(channel_cls, anchor, user)
            if data is None:
                raise ChannelError("No such anchor", ErrorCode.NOT_FOUND)
            return data

        nested: Any = self.nested_type
        returns = list[nested] if channel_cls._meta.many else typing.Optional[nested]  # noqa: UP045
        resolver = _with_signature(resolve, _parameters(channel_cls, False), returns)
        return strawberry.field(
            resolver=resolver,
            name=channel_cls._meta.field_name,
            description=(
                f"The nested states of {channel_cls.__name__}'s anchors, in order, once."
                if channel_cls._meta.many
                else f"The nested state of {channel_cls.__name__}, once."
            ),
        )
