"""Deleted records are named by the ``RecordRef`` interface with one concrete ``<Type>Ref`` per layer."""

from __future__ import annotations

import json

from graphql import GraphQLInterfaceType, parse

from rxgraphql.stream import Event
from schema_bridge.projection import compile_event
from schema_bridge.schema import get_schema_index

DELETED = (
    "subscription($boardId: ID!) { boardChannel(boardId: $boardId) "
    "{ cursor deleted { __typename type id } } }"
)


def test_record_ref_is_an_interface_with_one_type_per_layer() -> None:
    schema = get_schema_index().schema._schema
    ref = schema.type_map["RecordRef"]
    assert isinstance(ref, GraphQLInterfaceType)
    assert set(ref.fields) == {"type", "id"}
    names = {t.name for t in schema.get_possible_types(ref)}
    assert {"CardRef", "CommentRef", "BoardRef", "ReminderRef"} <= names


def test_deleted_refs_of_two_layers_with_one_id_have_distinct_typenames() -> None:
    """What Apollo's InMemoryCache normalizes by: ``CardRef:1`` and ``ReminderRef:1`` stay two objects."""
    render = compile_event(get_schema_index().schema._schema, parse(DELETED), None)
    assert render is not None  # the projection serves it, no fallback to the executor
    rendered = json.loads(render(Event(cursor="e.2", deleted=[("Card", "1"), ("Reminder", "1")]).root()))
    assert rendered["data"]["boardChannel"]["deleted"] == [
        {"__typename": "CardRef", "type": "Card", "id": "1"},
        {"__typename": "ReminderRef", "type": "Reminder", "id": "1"},
    ]
