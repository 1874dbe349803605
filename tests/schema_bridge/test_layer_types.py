"""Deleted records are named by the ``RecordRef`` interface with one concrete ``<Type>Ref`` per layer."""

from __future__ import annotations

import json
from typing import Any

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


def test_each_layer_type_is_built_once_and_named_after_the_layer() -> None:
    from board.channels import BoardChannel

    from schema_bridge.layer_types import LayerTypes

    types = LayerTypes()
    root = BoardChannel._meta.layers.root
    flat = types.flat_type(root)
    assert types.flat_type(root) is flat
    assert flat.__strawberry_definition__.name == "Board"  # type: ignore[attr-defined]
    nested = types.nested_type(root)
    assert types.nested_type(root) is nested
    assert nested.__strawberry_definition__.name == "BoardNested"  # type: ignore[attr-defined]
    assert types.ref_type(root) is types.ref_type(root)
    assert types.clashes() == []


def test_flat_children_are_ids_and_nested_children_are_nested_types() -> None:
    schema = get_schema_index().schema._schema
    flat, nested = schema.type_map["Board"], schema.type_map["BoardNested"]
    assert str(flat.fields["columns"].type) == "[ID!]!"  # type: ignore[attr-defined]
    assert str(flat.fields["settings"].type) == "ID"  # type: ignore[attr-defined]
    assert str(nested.fields["columns"].type) == "[ColumnNested!]!"  # type: ignore[attr-defined]
    assert str(nested.fields["settings"].type) == "BoardSettingsNested"  # type: ignore[attr-defined]
    assert str(nested.fields["owner"].type) == "BoardUserNested!"  # type: ignore[attr-defined]  # app-prefixed


def test_a_flat_type_resolves_only_its_own_records() -> None:
    from board.channels import BoardChannel

    from schema_bridge.layer_types import LayerTypes

    types = LayerTypes()
    flat: Any = types.flat_type(BoardChannel._meta.layers.root)
    ref: Any = types.ref_type(BoardChannel._meta.layers.root)
    assert flat.is_type_of({"__typename": "Board"}, None)
    assert not flat.is_type_of({"__typename": "Card"}, None)
    assert not flat.is_type_of(["Board"], None)
    assert ref.is_type_of({"type": "Board", "id": "1"}, None)
    assert not ref.is_type_of({"type": "Card", "id": "1"}, None)


def test_a_type_name_given_twice_is_a_clash() -> None:
    from schema_bridge.layer_types import LayerTypes

    types = LayerTypes()
    types.flat["CardRef"] = object  # a layer named like another layer's <Type>Ref
    types.refs["Card"] = object
    types.nested["BoardNested"] = object
    types.flat["BoardNested"] = object
    assert types.clashes() == ["BoardNested", "CardRef"]
