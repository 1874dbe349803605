"""Independent reference rebuilder for channel events.

The tests must not trust rxgraphql to check rxgraphql, so this module describes the
example's serializer trees by hand (which field of which type points at which type)
and uses that description alone to:

* apply subscription events to a flat store of records (``FlatState``),
* rebuild the nested tree from the flat store in the DRF output shape, and
* bring DRF serializer output and GraphQL nested output into the same comparable shape.

Comparable shape: snake_case keys, ids as strings (GraphQL ``ID`` is a string), plain
primary-key fields as strings, date-times parsed to ``datetime`` (ISO-8601 spellings of
the same instant compare equal); every other value as rendered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

RecordKey = tuple[str, str]


@dataclass(frozen=True)
class Link:
    """A field holding a nested child: one record (id or null) or an ordered list of ids."""

    target: str
    many: bool = False


@dataclass(frozen=True)
class TypeSpec:
    """One serializer layer: its fields in serializer order and how to read them."""

    fields: tuple[str, ...]
    links: Mapping[str, Link] = field(default_factory=dict)
    id_fields: frozenset[str] = frozenset({"id"})
    datetime_fields: frozenset[str] = frozenset()


Tree = Mapping[str, TypeSpec]

BOARD_TREE: Tree = {
    "Board": TypeSpec(
        fields=("id", "title", "owner", "settings", "labels", "columns"),
        links={
            "owner": Link("BoardUser"),
            "settings": Link("BoardSettings"),
            "labels": Link("Label", many=True),
            "columns": Link("Column", many=True),
        },
    ),
    "BoardUser": TypeSpec(fields=("id", "username")),
    "BoardSettings": TypeSpec(fields=("id", "theme")),
    "Label": TypeSpec(fields=("id", "name", "color")),
    "Column": TypeSpec(
        fields=("id", "title", "position", "cards"),
        links={"cards": Link("Card", many=True)},
    ),
    "Card": TypeSpec(
        fields=(
            "id",
            "title",
            "description",
            "position",
            "estimate",
            "due_at",
            "column",
            "assignee",
            "creator",
            "labels",
            "comments",
            "reminders",
            "comment_count",
        ),
        links={
            "assignee": Link("BoardUser"),
            "creator": Link("BoardUser"),
            "labels": Link("Label", many=True),
            "comments": Link("Comment", many=True),
            "reminders": Link("Reminder", many=True),
        },
        id_fields=frozenset({"id", "column"}),
        datetime_fields=frozenset({"due_at"}),
    ),
    "Reminder": TypeSpec(fields=("id", "text", "owner"), id_fields=frozenset({"id", "owner"})),
    "Comment": TypeSpec(
        fields=("id", "text", "created_at", "author"),
        links={"author": Link("BoardUser")},
        datetime_fields=frozenset({"created_at"}),
    ),
}

CHAT_TREE: Tree = {
    "ChatRoom": TypeSpec(
        fields=("id", "name", "participants", "messages"),
        links={
            "participants": Link("ChatUser", many=True),
            "messages": Link("Message", many=True),
        },
    ),
    "ChatUser": TypeSpec(fields=("id", "username")),
    "Message": TypeSpec(
        fields=("id", "text", "created_at", "author"),
        links={"author": Link("ChatUser")},
        datetime_fields=frozenset({"created_at"}),
    ),
}


def camel(name: str) -> str:
    """``due_at`` -> ``dueAt`` (the GraphQL spelling of a serializer field)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _scalar(spec: TypeSpec, name: str, value: Any) -> Any:
    """Bring one non-link value into the comparable shape."""
    if value is None:
        return None
    if name in spec.id_fields:
        return str(value)
    if name in spec.datetime_fields:
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    return value


def _normalize(data: Mapping[str, Any], tree: Tree, type_name: str, camel_keys: bool) -> Any:
    """Walk nested output (DRF or GraphQL) and return it in the comparable shape."""
    spec = tree[type_name]
    result: dict[str, Any] = {}
    for name in spec.fields:
        value = data[camel(name) if camel_keys else name]
        link = spec.links.get(name)
        if link is None:
            result[name] = _scalar(spec, name, value)
        elif link.many:
            result[name] = [_normalize(item, tree, link.target, camel_keys) for item in value]
        else:
            result[name] = None if value is None else _normalize(value, tree, link.target, camel_keys)
    return result


def normalize_drf(data: Mapping[str, Any], tree: Tree, root_type: str) -> Any:
    """Comparable shape of ``Serializer(instance).data`` (snake_case keys)."""
    return _normalize(data, tree, root_type, camel_keys=False)


def normalize_graphql_nested(data: Mapping[str, Any], tree: Tree, root_type: str) -> Any:
    """Comparable shape of a GraphQL nested query result (camelCase keys)."""
    return _normalize(data, tree, root_type, camel_keys=True)


def tree_keys(normalized: Mapping[str, Any], tree: Tree, root_type: str) -> set[RecordKey]:
    """Every (type, id) present in a normalized nested tree."""
    keys: set[RecordKey] = {(root_type, normalized["id"])}
    for name, link in tree[root_type].links.items():
        value = normalized[name]
        children = value if link.many else ([] if value is None else [value])
        for child in children:
            keys |= tree_keys(child, tree, link.target)
    return keys


class MissingRecordError(AssertionError):
    """The flat state points at a record that no event delivered (or that was deleted)."""

    def __init__(self, type_name: str, record_id: str) -> None:
        super().__init__(f"{type_name}:{record_id} is referenced but not held")
        self.type_name = type_name
        self.record_id = record_id


class FlatState:
    """Records keyed by (``__typename``, id), maintained from channel events."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.records: dict[RecordKey, dict[str, Any]] = {}

    def apply(self, event: Mapping[str, Any]) -> None:
        """Apply one event: reset clears, deleted refs go, records are upserted whole."""
        if event["reset"]:
            self.records.clear()
        for ref in event["deleted"]:
            self.records.pop((ref["type"], str(ref["id"])), None)
        for record in event["records"]:
            self.records[(record["__typename"], str(record["id"]))] = dict(record)

    def apply_all(self, events: Iterable[Mapping[str, Any]]) -> None:
        """Apply events in order."""
        for event in events:
            self.apply(event)

    def referrers(self, key: RecordKey) -> list[RecordKey]:
        """Records whose link fields point at ``key`` (for failure messages)."""
        found: list[RecordKey] = []
        for holder, record in self.records.items():
            for name, link in self.tree[holder[0]].links.items():
                value = record.get(camel(name))
                ids = value if link.many else [value]
                if link.target == key[0] and key[1] in [str(item) for item in ids or []]:
                    found.append(holder)
        return found

    def nested(self, root_type: str, root_id: object) -> Any:
        """Rebuild the nested tree under one root, in the comparable shape."""
        return self._build(root_type, str(root_id))

    def _build(self, type_name: str, record_id: str) -> Any:
        record = self.records.get((type_name, record_id))
        if record is None:
            raise MissingRecordError(type_name, record_id)
        spec = self.tree[type_name]
        result: dict[str, Any] = {}
        for name in spec.fields:
            value = record[camel(name)]
            link = spec.links.get(name)
            if link is None:
                result[name] = _scalar(spec, name, value)
            elif link.many:
                result[name] = [self._build(link.target, str(item)) for item in value]
            else:
                result[name] = None if value is None else self._build(link.target, str(value))
        return result


def _flat_selection(spec: TypeSpec) -> str:
    """Every flat field of a record type (links are ids or id lists there)."""
    return " ".join(camel(name) for name in spec.fields)


def subscription_document(tree: Tree, root_field: str, arguments: Mapping[str, str]) -> str:
    """A subscription selecting every field of every record type, with ``__typename``."""
    declared = ", ".join([f"${name}: {kind}" for name, kind in arguments.items()])
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    fragments = "\n".join(
        f"      ... on {type_name} {{ {_flat_selection(spec)} }}" for type_name, spec in tree.items()
    )
    return (
        f"subscription Stream({declared}) {{\n"
        f"  {root_field}({passed}) {{\n"
        "    cursor\n    reset\n    ready\n"
        f"    records {{\n      __typename\n{fragments}\n    }}\n"
        "    deleted { type id }\n    notifications\n"
        "  }\n}\n"
    )


def _nested_selection(tree: Tree, type_name: str) -> str:
    spec = tree[type_name]
    parts: list[str] = []
    for name in spec.fields:
        link = spec.links.get(name)
        if link is None:
            parts.append(camel(name))
        else:
            parts.append(f"{camel(name)} {{ {_nested_selection(tree, link.target)} }}")
    return " ".join(parts)


def nested_query_document(tree: Tree, root_type: str, root_field: str, arguments: Mapping[str, str]) -> str:
    """A query of the channel's nested state selecting every field at every depth."""
    declared = ", ".join(f"${name}: {kind}" for name, kind in arguments.items())
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    return (
        f"query Nested({declared}) {{\n"
        f"  {root_field}({passed}) {{ {_nested_selection(tree, root_type)} }}\n}}\n"
    )


BOARD_SUBSCRIPTION = subscription_document(BOARD_TREE, "boardChannel", {"boardId": "ID!", "since": "String"})
BOARD_NESTED_QUERY = nested_query_document(BOARD_TREE, "Board", "boardChannel", {"boardId": "ID!"})
CHAT_SUBSCRIPTION = subscription_document(CHAT_TREE, "chatRoomChannel", {"roomId": "ID!"})
