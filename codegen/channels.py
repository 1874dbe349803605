"""Recognises the channels of a schema and recovers each one's layer model from the types alone.

A channel is a subscription field returning an object with ``cursor``, ``reset``, ``ready``, ``records``
(a union of flat layer types) and ``deleted``. The query field of the same name returns the nested root
type (``<Type>Nested``); walking the nested types says which field of which layer refers to which layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from .introspection import Field, InputValue, NamedType, Schema

EVENT_FIELDS = {"cursor", "reset", "ready", "records", "deleted"}
NESTED_SUFFIX = "Nested"


class SchemaShapeError(ValueError):
    """The schema does not have the shape rxgraphql serves."""


@dataclass(frozen=True)
class Ref:
    target: str
    many: bool


@dataclass(frozen=True)
class Action:
    """A mutation of the channel (``<channelField><Name>``): ``method`` is its name on the channel class."""

    mutation: str
    method: str
    bound_args: tuple[str, ...]


@dataclass
class Channel:
    field: str
    class_name: str
    description: str | None
    arguments: tuple[InputValue, ...]
    event_type: str
    root: str
    layers: tuple[str, ...]
    refs: dict[str, dict[str, Ref]]
    actions: tuple[Action, ...] = ()
    runtime: str | None = None  # the type of the event's ``runtime`` field, when the channel has one
    notifications: bool = False  # whether the event has a ``notifications`` field
    many: bool = False  # a list channel: the event has ``anchors``, the state is a list

    @property
    def state_type(self) -> str:
        """The TypeScript type of the channel's nested state."""
        return f"readonly {self.root}State[]" if self.many else f"{self.root}State"


def _is_event(schema: Schema, type_name: str) -> bool:
    event = schema.types.get(type_name)
    if event is None or event.kind != "OBJECT":
        return False
    if not EVENT_FIELDS.issubset(f.name for f in event.fields):
        return False
    records = event.field("records")
    return records is not None and schema.types[records.type.named].kind == "UNION"


def _walk_nested(
    schema: Schema, nested: NamedType, layers: set[str], refs: dict[str, dict[str, Ref]]
) -> None:
    flat = nested.name.removesuffix(NESTED_SUFFIX)
    if flat in refs:
        return
    if flat not in layers:
        raise SchemaShapeError(f"{nested.name} has no flat layer type {flat} in the channel's records")
    refs[flat] = {}
    for f in nested.fields:
        target = schema.types.get(f.type.named)
        if target is None or target.kind != "OBJECT" or not target.name.endswith(NESTED_SUFFIX):
            continue
        refs[flat][f.name] = Ref(target.name.removesuffix(NESTED_SUFFIX), f.type.is_list)
        _walk_nested(schema, target, layers, refs)


def find_channels(schema: Schema) -> list[Channel]:
    queries = {f.name: f for f in schema.root_fields(schema.query)}
    found: list[Channel] = []
    for sub in schema.root_fields(schema.subscription):
        if not _is_event(schema, sub.type.named):
            continue
        channel = _channel(schema, sub, queries.get(sub.name))
        channel.actions = _actions(schema, channel)
        found.append(channel)
    return found


def _actions(schema: Schema, channel: Channel) -> tuple[Action, ...]:
    """Mutations named after the channel; the channel's own arguments are filled in from it."""
    own = {a.name: a.type.graphql() for a in channel.arguments}
    actions = []
    for mutation in schema.root_fields(schema.mutation):
        rest = mutation.name.removeprefix(channel.field)
        if rest == mutation.name or not rest[:1].isupper():
            continue
        bound = tuple(a.name for a in mutation.args if own.get(a.name) == a.type.graphql())
        actions.append(Action(mutation.name, rest[:1].lower() + rest[1:], bound))
    return tuple(actions)


def _channel(schema: Schema, sub: Field, query: Field | None) -> Channel:
    event = schema.types[sub.type.named]
    records = event.field("records")
    assert records is not None
    layers = schema.types[records.type.named].possible_types
    if query is None:
        raise SchemaShapeError(f"channel {sub.name} has no query field returning its nested state")
    nested_root = schema.types[query.type.named]
    refs: dict[str, dict[str, Ref]] = {}
    _walk_nested(schema, nested_root, set(layers), refs)
    for layer in layers:
        refs.setdefault(layer, {})
    runtime = event.field("runtime")
    return Channel(
        many=event.field("anchors") is not None,
        notifications=event.field("notifications") is not None,
        runtime=runtime.type.named if runtime is not None else None,
        field=sub.name,
        class_name=sub.name[:1].upper() + sub.name[1:],
        description=sub.description,
        arguments=tuple(a for a in sub.args if a.name != "since"),
        event_type=event.name,
        root=nested_root.name.removesuffix(NESTED_SUFFIX),
        layers=tuple(sorted(layers)),
        refs={k: dict(sorted(v.items())) for k, v in sorted(refs.items())},
    )
