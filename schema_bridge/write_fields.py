"""Mutations for declared writes: ``<channelField>Save<Type>``, ``...Create<Type>``, ``...Delete<Type>``.

Each takes the channel's arguments (the anchor), then ``id`` (save, delete) and ``data: <Type>Input``
(save, create; only the fields sent are written), and answers ``<Type>WriteResult``: ``ok``, an HTTP-like
``code`` (200, 400, 403, 404: the HTTP status of the refusal's ``rxgraphql.errors.ErrorCode``), a
``message``, DRF's field ``errors``, the saved ``record`` and the ``cursor`` of the write's commit in the
anchor's stream (see ``commit_position``).
"""

from __future__ import annotations

import inspect
import logging
import typing
from typing import Any

import strawberry
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from rest_framework import serializers
from strawberry.scalars import JSON

from rxgraphql.channel import ContextChannel
from rxgraphql.errors import ErrorCode, status_of
from rxgraphql.writes import Operation, WritableLayer, WriteOutcome, perform_write

from .access import ChannelError, list_anchors, open_channel
from .action_fields import live_channel
from .channel_fields import _argument_annotation, _with_signature
from .commit_position import commit_position
from .error_log import log_refusal
from .field_types import scalar_annotation
from .layer_types import LayerTypes

logger = logging.getLogger("rxgraphql.errors")


def _plain(value: Any) -> Any:
    """DRF's error structure as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


class WriteTypes:
    """The input and result types of writable layers, built once per layer."""

    def __init__(self, layer_types: LayerTypes) -> None:
        self.layer_types = layer_types
        self.inputs: dict[str, type] = {}
        self.results: dict[str, type] = {}

    def input_type(self, writable: WritableLayer) -> type:
        name = f"{writable.layer.type_name}Input"
        if name not in self.inputs:
            annotations: dict[str, Any] = {}
            defaults: dict[str, Any] = {}
            pk = writable.layer.pk_field
            for field_name, field in writable.serializer_class().fields.items():
                if field.read_only or field_name == pk:
                    continue
                if isinstance(field, serializers.ManyRelatedField):
                    annotation: Any = list[strawberry.ID]
                elif isinstance(field, serializers.RelatedField):
                    annotation = strawberry.ID
                else:
                    annotation = scalar_annotation(field_name, field, pk)
                annotations[field_name] = typing.Optional[annotation]  # noqa: UP045
                defaults[field_name] = strawberry.UNSET
            doc = f"Fields of a {writable.layer.type_name} to write; fields left out are not changed."
            namespace = {"__annotations__": annotations, **defaults}
            self.inputs[name] = strawberry.input(type(name, (), namespace), name=name, description=doc)
        return self.inputs[name]

    def result_type(self, writable: WritableLayer) -> type:
        name = f"{writable.layer.type_name}WriteResult"
        if name not in self.results:
            record: Any = typing.Optional[self.layer_types.flat_type(writable.layer)]  # noqa: UP045
            annotations = {
                "ok": bool,
                "code": int,
                "message": str,
                "errors": typing.Optional[JSON],  # noqa: UP045
                "record": record,
                # commit position (see commit_position.py): null when not known
                "cursor": typing.Optional[str],  # noqa: UP045
            }
            doc = (
                "The outcome of a write: code 200 (ok), 400 (invalid data), 403 (refused), 404 (not found); "
                "`cursor`: the position of its commit in the anchor's stream (null when not known)."
            )
            self.results[name] = strawberry.type(
                type(name, (), {"__annotations__": annotations}), name=name, description=doc
            )
        return self.results[name]


def _outcome(outcome: WriteOutcome, cursor: str | None = None) -> dict[str, Any]:
    return {
        "ok": outcome.ok,
        "code": outcome.code,
        "message": outcome.message,
        "errors": None if outcome.errors is None else _plain(outcome.errors),
        "record": outcome.record,
        "cursor": cursor,
    }


def write_field(
    channel_cls: type[ContextChannel], writable: WritableLayer, operation: Operation, types: WriteTypes
) -> tuple[str, Any]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("info", keyword, annotation=strawberry.Info)]
    for argument in channel_cls._meta.arguments:
        params.append(inspect.Parameter(argument.name, keyword, annotation=_argument_annotation(argument)))
    if operation is not Operation.CREATE:
        params.append(inspect.Parameter("id", keyword, annotation=strawberry.ID))
    if operation is not Operation.DELETE:
        params.append(inspect.Parameter("data", keyword, annotation=types.input_type(writable)))
    channel_names = {a.name for a in channel_cls._meta.arguments}

    async def resolve(info: strawberry.Info, **kwargs: Any) -> Any:
        user = getattr(info.context, "user", None) or AnonymousUser()
        channel_args = {name: kwargs.pop(name) for name in channel_names}
        try:
            channel, anchor = await open_channel(channel_cls, user, channel_args)
        except ChannelError as refusal:
            log_refusal(refusal, where=name)
            return _outcome(WriteOutcome(status_of(refusal.code), refusal.message))
        live = live_channel(info.context, channel_cls, anchor)
        channel = live or channel
        if not channel_cls._meta.many:
            anchors = [anchor]
        elif live is not None:
            anchors = live.anchor_ids  # what the subscription streams right now
        else:
            anchors = await list_anchors(channel)
        data_input = kwargs.get("data")
        data = (
            {key: value for key, value in vars(data_input).items() if value is not strawberry.UNSET}
            if data_input is not None
            else {}
        )
        outcome = await database_sync_to_async(perform_write)(
            channel, writable, operation, anchors, kwargs.get("id"), data
        )
        if not outcome.ok:
            level = logging.WARNING if outcome.code == ErrorCode.FORBIDDEN.status else logging.INFO
            logger.log(level, "%s refused (%d): %s", name, outcome.code, outcome.message)
        # commit position of the write (single channels; list channels have no cursor)
        cursor = (
            await commit_position(channel_cls, anchor) if outcome.ok and not channel_cls._meta.many else None
        )
        return _outcome(outcome, cursor)

    verb = operation.value.capitalize()
    name = f"{channel_cls._meta.field_name}{verb}{writable.layer.type_name}"
    resolver = _with_signature(resolve, params, types.result_type(writable))
    description = f"{verb} a {writable.layer.type_name} of {channel_cls.__name__}'s anchor."
    return name, strawberry.mutation(resolver=resolver, name=name, description=description)


def write_fields(channels: list[type[ContextChannel]], layer_types: LayerTypes) -> dict[str, Any]:
    types = WriteTypes(layer_types)
    fields: dict[str, Any] = {}
    for channel_cls in channels:
        for writable in channel_cls._meta.writable.values():
            for operation in sorted(writable.operations, key=lambda op: op.value):
                name, field = write_field(channel_cls, writable, operation, types)
                fields[name] = field
    return fields
