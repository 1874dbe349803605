"""Rendering GraphQL types as TypeScript types, and selection sets with the type of what they select."""

from __future__ import annotations

import json
import re

from .introspection import Field, NamedType, Schema, TypeRef

SCALARS = {
    "ID": "string",
    "String": "string",
    "Int": "number",
    "Float": "number",
    "Boolean": "boolean",
    "DateTime": "string",
    "Date": "string",
    "Time": "string",
    "Decimal": "string",
    "UUID": "string",
    "JSON": "JSONValue",
}

MAX_SELECTION_DEPTH = 4


def scalar(name: str) -> str:
    return SCALARS.get(name, "unknown")


def doc_comment(text: str | None, indent: str = "") -> str:
    if not text:
        return ""
    lines = text.strip().replace("*/", "*\\/").splitlines()
    if len(lines) == 1:
        return f"{indent}/** {lines[0]} */\n"
    body = "".join(f"{indent} * {line}".rstrip() + "\n" for line in lines)
    return f"{indent}/**\n{body}{indent} */\n"


def prop(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", name) else json.dumps(name)


def ts_type(schema: Schema, ref: TypeRef, named: dict[str, str] | None = None) -> str:
    """The TypeScript type of a value of ``ref``; ``named`` overrides how named types render."""
    if ref.non_null:
        assert ref.of_type is not None
        return _non_null(schema, ref.of_type, named)
    return f"{_non_null(schema, ref, named)} | null"


def _non_null(schema: Schema, ref: TypeRef, named: dict[str, str] | None) -> str:
    if ref.kind == "LIST":
        assert ref.of_type is not None
        inner = ts_type(schema, ref.of_type, named)
        return f"ReadonlyArray<{inner}>"
    assert ref.name is not None
    if named and ref.name in named:
        return named[ref.name]
    kind = schema.types[ref.name].kind if ref.name in schema.types else "SCALAR"
    if kind == "SCALAR":
        return scalar(ref.name)
    return ref.name


def input_type(schema: Schema, ref: TypeRef) -> str:
    """Variables accept plain arrays."""
    return ts_type(schema, ref).replace("ReadonlyArray<", "Array<")


class Selection:
    """A selection set for an output type, and the TypeScript type of its result."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.used: set[str] = set()  # named types (enums) the result type refers to

    def of(self, ref: TypeRef, depth: int = 0) -> tuple[str, str]:
        """(selection text, result type); selection is empty for leaves."""
        named = self.schema.types.get(ref.named)
        if named is None or named.kind in ("SCALAR", "ENUM"):
            if named is not None and named.kind == "ENUM":
                self.used.add(named.name)
            return "", ts_type(self.schema, ref)
        selection, shape = self._object(named, depth)
        return selection, _wrap(ref, shape)

    def _object(self, named: NamedType, depth: int) -> tuple[str, str]:
        if named.kind in ("UNION", "INTERFACE"):
            parts = ["__typename"]
            shapes = []
            for member in named.possible_types:
                selection, shape = self._object(self.schema.types[member], depth)
                parts.append(f"... on {member} {selection}")
                shapes.append(shape)
            return "{ " + " ".join(parts) + " }", " | ".join(shapes) or "never"
        parts = ["__typename"]
        props = [f"readonly __typename: {json.dumps(named.name)}"]
        for f in named.fields:
            if any(a.required for a in f.args):
                continue
            sub = self.schema.types.get(f.type.named)
            leaf = sub is None or sub.kind in ("SCALAR", "ENUM")
            if not leaf and depth >= MAX_SELECTION_DEPTH:
                continue
            selection, shape = self.of(f.type, depth + 1)
            parts.append(f"{f.name} {selection}".strip())
            props.append(f"readonly {prop(f.name)}: {shape}")
        return "{ " + " ".join(parts) + " }", "{ " + "; ".join(props) + " }"


def _wrap(ref: TypeRef, shape: str) -> str:
    if ref.non_null:
        assert ref.of_type is not None
        return _wrap_inner(ref.of_type, shape)
    return f"({_wrap_inner(ref, shape)}) | null"


def _wrap_inner(ref: TypeRef, shape: str) -> str:
    if ref.kind == "LIST":
        assert ref.of_type is not None
        return f"ReadonlyArray<{_wrap(ref.of_type, shape)}>"
    return shape


def variables_of(schema: Schema, field: Field) -> list[tuple[str, str, bool]]:
    """(name, TypeScript type, optional) per argument."""
    return [(a.name, input_type(schema, a.type), not a.required) for a in field.args]
