"""``types.ts``: every type of the schema, the flat record of each layer and the nested state types."""

from __future__ import annotations

import json

from .channels import Channel
from .introspection import NamedType, Schema
from .typescript import doc_comment, prop, ts_type

JSON_VALUE = (
    "export type JSONValue =\n  | string\n  | number\n  | boolean\n  | null\n"
    "  | ReadonlyArray<JSONValue>\n  | { readonly [key: string]: JSONValue };\n"
)


def _object(schema: Schema, named: NamedType, layers: set[str]) -> str:
    lines = [doc_comment(named.description), f"export interface {named.name} {{\n"]
    if named.name in layers:
        lines.append(f"  readonly __typename: {json.dumps(named.name)};\n")
    for f in named.fields:
        lines.append(doc_comment(f.description, "  "))
        lines.append(f"  readonly {prop(f.name)}: {ts_type(schema, f.type)};\n")
    lines.append("}\n")
    return "".join(lines)


def _input(schema: Schema, named: NamedType) -> str:
    lines = [doc_comment(named.description), f"export interface {named.name} {{\n"]
    for f in named.input_fields:
        optional = "?" if not f.required else ""
        lines.append(doc_comment(f.description, "  "))
        lines.append(
            f"  {prop(f.name)}{optional}: {ts_type(schema, f.type).replace('ReadonlyArray<', 'Array<')};\n"
        )
    lines.append("}\n")
    return "".join(lines)


def _state(schema: Schema, channel: Channel, layer: str) -> str:
    """``<Type>State``: the flat record with every ref replaced by the state of what it refers to.

    A single reference is ``T | null`` even when the flat field is non-null: the runtime renders a reference
    to a record that has not arrived, that per-user filtering withheld, or that closes a cycle as ``null``.
    """
    refs = channel.refs[layer]
    if not refs:
        return f"export type {layer}State = {layer};\n"
    fields = []
    for name, ref in refs.items():
        target = f"{ref.target}State"
        if ref.many:
            fields.append(f"  readonly {prop(name)}: ReadonlyArray<{target}>;\n")
        else:
            fields.append(f"  readonly {prop(name)}: {target} | null;\n")
    omitted = " | ".join(json.dumps(n) for n in refs)
    return f"export type {layer}State = Omit<{layer}, {omitted}> & {{\n" + "".join(fields) + "};\n"


def emit_types(schema: Schema, channels: list[Channel]) -> str:
    layers = {layer for channel in channels for layer in channel.layers}
    roots = {schema.query, schema.mutation, schema.subscription}
    parts = [JSON_VALUE]
    for name in sorted(schema.types):
        named = schema.types[name]
        if name in roots or named.kind == "SCALAR":
            continue
        if named.kind == "OBJECT":
            parts.append(_object(schema, named, layers))
        elif named.kind == "INPUT_OBJECT":
            parts.append(_input(schema, named))
        elif named.kind == "ENUM":
            values = " | ".join(json.dumps(v) for v in named.enum_values) or "never"
            parts.append(doc_comment(named.description) + f"export type {name} = {values};\n")
        elif named.kind in ("UNION", "INTERFACE"):
            members = " | ".join(named.possible_types) or "never"
            parts.append(doc_comment(named.description) + f"export type {name} = {members};\n")
    seen: set[str] = set()
    for channel in channels:
        for layer in channel.layers:
            if layer not in seen:
                seen.add(layer)
                parts.append(_state(schema, channel, layer))
    return "\n".join(parts)
