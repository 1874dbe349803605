"""``operations.ts``: the documents and typed functions of every query and mutation of the schema."""

from __future__ import annotations

import json

from .introspection import Field, Schema
from .typescript import Selection, doc_comment, prop, variables_of


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _operation(schema: Schema, kind: str, field: Field, used: set[str]) -> str:
    name = _pascal(field.name) + ("Query" if kind == "query" else "Mutation")
    select = Selection(schema)
    selection, result = select.of(field.type)
    used.update(select.used)
    for argument in field.args:
        if schema.types.get(argument.type.named, None) and schema.types[argument.type.named].kind != "SCALAR":
            used.add(argument.type.named)
    variables = variables_of(schema, field)
    # An argument with a default keeps it on its variable, so leaving the variable out is valid.
    definitions = ", ".join(
        f"${a.name}: {a.type.graphql()}" + (f" = {a.default_value}" if a.default_value is not None else "")
        for a in field.args
    )
    arguments = ", ".join(f"{a.name}: ${a.name}" for a in field.args)
    head = f"{kind} {name}" + (f"({definitions})" if definitions else "")
    call = field.name + (f"({arguments})" if arguments else "")
    document = f"{head} {{ {call} {selection} }}".replace("  ", " ")
    props = "".join(f"  {prop(n)}{'?' if optional else ''}: {t};\n" for n, t, optional in variables)
    vars_type = f"{name}Variables"
    optional_vars = all(optional for _, _, optional in variables)
    param = f"variables: {vars_type}" + (" = {}" if optional_vars else "")
    return (
        f"export const {name}Document = {json.dumps(document)};\n"
        f"export type {vars_type} = {{\n{props}}};\n"
        f"export type {name}Result = {result};\n"
        + doc_comment(field.description)
        + f"export async function {field.name}{'Query' if kind == 'query' else ''}(\n"
        f"  connection: Connection,\n  {param},\n  options?: RequestOptions,\n): Promise<{name}Result> {{\n"
        f"  const data = await connection.request<{{ {prop(field.name)}: {name}Result }}>(\n"
        f"    {name}Document,\n    variables,\n    options,\n  );\n"
        f"  return data.{field.name} as {name}Result;\n}}\n"
    )


def emit_operations(schema: Schema) -> str:
    used: set[str] = set()
    parts = [_operation(schema, "query", f, used) for f in schema.root_fields(schema.query)]
    parts += [_operation(schema, "mutation", f, used) for f in schema.root_fields(schema.mutation)]
    head = 'import type { Connection, RequestOptions } from "./runtime/index.js";\n'
    if any("JSONValue" in part for part in parts):
        used.add("JSONValue")
    if used:
        head += f'import type {{ {", ".join(sorted(used))} }} from "./types.js";\n'
    return "\n".join([head, *parts])
