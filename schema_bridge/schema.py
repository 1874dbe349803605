"""The project's GraphQL schema: every channel's fields merged with the project's own root types."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import strawberry
from django.conf import settings
from django.core.exceptions import (
    ImproperlyConfigured,
    ObjectDoesNotExist,
    PermissionDenied,
    ValidationError,
)
from django.utils.module_loading import import_string
from graphql import GraphQLError
from strawberry.exceptions import DuplicatedTypeName
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.schema.config import StrawberryConfig

from rxgraphql.channel import ContextChannel
from rxgraphql.conf import rx_settings
from rxgraphql.registry import registry

from .action_fields import action_fields
from .channel_fields import ChannelFields
from .documents import PreparedDocuments
from .error_log import LoggedSchema
from .layer_types import LayerTypes
from .scalars import SCALAR_MAP
from .write_fields import write_fields

# Exceptions whose message is meant for the client; anything else is masked unless DEBUG.
CLIENT_ERRORS = (PermissionError, PermissionDenied, ValueError, ValidationError, ObjectDoesNotExist)


def _resolve_default(source: Any, name: str) -> Any:
    """Layer records are dicts: read them by key; everything else by attribute."""
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name)


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None or isinstance(original, (GraphQLError, *CLIENT_ERRORS)):
        return False
    return not settings.DEBUG


def _extensions(paths: tuple[str, ...]) -> list[Any]:
    """The schema extensions ``RXGRAPHQL["EXTENSIONS"]`` names (classes or factories), after error masking."""
    found: list[Any] = [lambda: MaskErrors(should_mask_error=_should_mask)]
    for path in paths:
        extension = import_string(path)
        if isinstance(extension, SchemaExtension):
            message = f"RXGRAPHQL['EXTENSIONS'] names {path}: give the class, not an instance"
            raise ImproperlyConfigured(message)
        found.append(extension)
    return found


def _clash(error: DuplicatedTypeName) -> ImproperlyConfigured:
    """Say which naming rule a duplicated GraphQL type name broke."""
    return ImproperlyConfigured(
        f"{error.message}. rxgraphql names a channel's layer types after their serializers without the "
        "'Serializer' suffix (CardSerializer -> Card, CardNested, CardWriteResult, ...), and the generated "
        "client relies on those names: give your own strawberry type another name (e.g. with a 'Type' "
        "suffix: CardType)."
    )


def _root_type(name: str, base_path: str | None, fields: dict[str, Any]) -> type | None:
    bases: tuple[type, ...] = ()
    if base_path:
        bases = (import_string(base_path),)
    if not bases and not fields:
        return None
    namespace: dict[str, Any] = {"__annotations__": {}, **fields}
    return strawberry.type(type(name, bases, namespace), name=name)


class SchemaIndex:
    """The built schema plus what the websocket server needs to know about its channel fields."""

    def __init__(self) -> None:
        conf = rx_settings()
        layer_types = LayerTypes()
        self.channels: dict[str, type[ContextChannel]] = {}
        query_fields: dict[str, Any] = {}
        subscription_fields: dict[str, Any] = {}
        for channel_cls in sorted(registry.channels.values(), key=lambda c: c._meta.field_name):
            fields = ChannelFields(channel_cls, layer_types)
            self.channels[channel_cls._meta.field_name] = channel_cls
            query_fields[channel_cls._meta.field_name] = fields.query_field()
            subscription_fields[channel_cls._meta.field_name] = fields.subscription_field()
        channels = list(self.channels.values())
        mutations = {**action_fields(channels), **write_fields(channels, layer_types)}
        # Root mutation fields that open their channel (and so check the caller again) themselves.
        self.channel_mutations = frozenset(mutations)
        query = _root_type("Query", conf.query, query_fields)
        if query is None:
            query = strawberry.type(type("Query", (), {"__annotations__": {"ok": bool}, "ok": True}))
        clashes = layer_types.clashes()
        if clashes:
            raise ImproperlyConfigured(f"GraphQL type names used twice: {', '.join(clashes)}")
        try:
            self.schema = LoggedSchema(
                query=query,
                # the concrete RecordRef of each layer (no field names them: they implement the interface)
                types=list(layer_types.refs.values()),
                mutation=_root_type("Mutation", conf.mutation, mutations),
                subscription=_root_type("Subscription", conf.subscription, subscription_fields),
                config=StrawberryConfig(default_resolver=_resolve_default, scalar_map=SCALAR_MAP),
                extensions=[PreparedDocuments, *_extensions(conf.extensions)],
            )
        except DuplicatedTypeName as error:
            raise _clash(error) from error


@functools.cache
def get_schema_index() -> SchemaIndex:
    return SchemaIndex()


def get_schema() -> strawberry.Schema:
    return get_schema_index().schema
