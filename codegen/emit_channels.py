"""``channels.ts`` and ``hooks.ts``: per channel its model, document, argument type, class and React hook."""

from __future__ import annotations

import hashlib
import json

from .channels import Channel
from .introspection import Schema, TypeRef
from .typescript import Selection, doc_comment, input_type, prop


def subscription_document(schema: Schema, channel: Channel) -> str:
    """Selects every field of every layer type, so the client always holds full records."""
    definitions = ", ".join(f"${a.name}: {a.type.graphql()}" for a in channel.arguments)
    definitions = f"{definitions}, $since: String" if definitions else "$since: String"
    arguments = ", ".join(f"{a.name}: ${a.name}" for a in channel.arguments)
    arguments = f"{arguments}, since: $since" if arguments else "since: $since"
    fragments = " ".join(
        f"... on {layer} {{ {' '.join(f.name for f in schema.types[layer].fields)} }}"
        for layer in channel.layers
    )
    notifications = " notifications" if channel.notifications else ""
    anchors = " anchors" if channel.many else ""
    runtime = ""
    if channel.runtime is not None:
        runtime = " runtime " + Selection(schema).of(TypeRef("NAMED", channel.runtime, None))[0]
    return (
        f"subscription {channel.class_name}({definitions}) {{ {channel.field}({arguments}) "
        f"{{ cursor reset ready{anchors} records {{ __typename {fragments} }} deleted {{ type id }}"
        f"{notifications}{runtime} }} }}"
    )


def _model(channel: Channel, document: str) -> str:
    types = []
    for layer in channel.layers:
        refs = ", ".join(
            f"{prop(name)}: {{ type: {json.dumps(ref.target)}, many: {'true' if ref.many else 'false'} }}"
            for name, ref in channel.refs[layer].items()
        )
        types.append(
            f"    {layer}: {{ refs: {{ {refs} }} }},\n" if refs else f"    {layer}: {{ refs: {{}} }},\n"
        )
    return (
        f"export const {channel.field}Model: ChannelModel = {{\n"
        f"  field: {json.dumps(channel.field)},\n  root: {json.dumps(channel.root)},\n"
        + ("  many: true,\n" if channel.many else "")
        + f"  types: {{\n{''.join(types)}  }},\n"
        # what a persisted state depends on: every field of every layer, as the document selects them
        + f"  version: {json.dumps(hashlib.sha256(document.encode()).hexdigest()[:16])},\n}};\n"
    )


CHANNEL_CLASS = """\
export class {name} {{
  readonly store: ChannelStore<{state}>;
  /** The channel's mutations, with its arguments filled in. */
  readonly actions: {name}Actions;
  private subscription: ChannelSubscription | null = null;

  constructor(
    readonly connection: Connection,
    readonly args: {name}Args,
  ) {{
    this.store = new ChannelStore<{state}>({field}Model);
    this.actions = {field}Actions(connection, args);
  }}

  /** The nested state, rebuilt from the flat records (null until the snapshot arrives). */
  get state(): {state} | null {{
    return this.store.state;
  }}

  get ready(): boolean {{
    return this.store.ready;
  }}

  /** This subscription's runtime state (null when the channel has none or before the first event). */
  get runtime(): {runtime} {{
    return this.store.runtime as {runtime};
  }}

  /** Subscribe (or resume from the last cursor after `stop()`). */
  start(): this {{
    if (!this.subscription?.active) {{
      this.subscription = this.connection.subscribeChannel(this.store, {name}Document, this.args);
    }}
    return this;
  }}

  stop(): void {{
    this.subscription?.unsubscribe();
    this.subscription = null;
  }}

  /** Called once per applied event; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {{
    return this.store.subscribe(listener);
  }}
}}
"""

HOOKS_HEAD = """\
import { createContext, createElement, useContext, useMemo } from "react";
import type { ReactElement, ReactNode } from "react";
import { stableStringify, useChannel } from "./runtime/hooks.js";
import type { ChannelView, UseChannelOptions } from "./runtime/hooks.js";
import type { Connection } from "./runtime/index.js";
"""

HOOKS_BODY = """\
const ConnectionContext = createContext<Connection | null>(null);

/** Makes one connection available to every channel hook rendered below it. */
export function RxGraphQLProvider(props: {
  readonly connection: Connection;
  readonly children?: ReactNode;
}): ReactElement {
  return createElement(ConnectionContext.Provider, { value: props.connection }, props.children);
}

/** The connection given by the nearest RxGraphQLProvider (null without one). */
export function useRxConnection(): Connection | null {
  return useContext(ConnectionContext);
}

export interface ChannelHookOptions<S> extends UseChannelOptions<S> {
  /** Overrides the provider's connection. */
  readonly connection?: Connection | null;
}
"""

HOOK = """\
export function use{name}(
  args: {name}Args,
  options: ChannelHookOptions<{state}> = {{}},
): Omit<ChannelView<{state}>, "runtime"> & {{
  readonly runtime: {runtime};
  readonly actions: {name}Actions | null;
}} {{
  const provided = useContext(ConnectionContext);
  const connection = options.connection ?? provided;
  const view = useChannel<{state}>(connection, {field}Model, {name}Document, args, options);
  const argsKey = stableStringify(args);
  const actions = useMemo(
    () => (connection === null ? null : {field}Actions(connection, args)),
    // argsKey stands for args, a new object at every render
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [connection, argsKey],
  );
  return {{ ...view, runtime: view.runtime as {runtime}, actions }};
}}
"""


def _actions(channel: Channel) -> str:
    """``<Channel>Actions``: the channel's mutations with its own arguments already bound."""
    name = channel.class_name
    members = []
    bodies = []
    for action in channel.actions:
        pascal = action.mutation[:1].upper() + action.mutation[1:]
        bound = " | ".join(json.dumps(a) for a in action.bound_args)
        variables = f"Omit<{pascal}MutationVariables, {bound}>" if bound else f"{pascal}MutationVariables"
        members.append(
            f"  {action.method}(variables: {variables}, options?: RequestOptions): "
            f"Promise<{pascal}MutationResult>;\n"
        )
        bodies.append(
            f"    {action.method}: (variables, options) =>\n"
            f"      {action.mutation}(connection, {{ ...args, ...variables }}, options),\n"
        )
    factory = f"export function {channel.field}Actions(\n"
    if not members:
        return (
            f"export type {name}Actions = Readonly<Record<string, never>>;\n\n"
            f"{factory}  _connection: Connection,\n  _args: {name}Args,\n): {name}Actions {{\n"
            "  return {};\n}\n\n"
        )
    return (
        f"export type {name}Actions = {{\n{''.join(members)}}};\n\n"
        f"{factory}  connection: Connection,\n  args: {name}Args,\n): {name}Actions {{\n"
        f"  return {{\n{''.join(bodies)}  }};\n}}\n\n"
    )


def _runtime_type(channel: Channel) -> str:
    return f"{channel.runtime} | null" if channel.runtime else "null"


def _channel(schema: Schema, channel: Channel) -> str:
    name = channel.class_name
    args = "".join(
        f"  readonly {prop(a.name)}{'' if a.required else '?'}: {input_type(schema, a.type)};\n"
        for a in channel.arguments
    )
    text = subscription_document(schema, channel)
    document = json.dumps(text)
    return (
        _model(channel, text)
        + f"\nexport const {name}Document = {document};\n\n"
        + f"export type {name}Args = {{\n{args}}};\n\n"
        + _actions(channel)
        + doc_comment(channel.description)
        + CHANNEL_CLASS.format(
            name=name, state=channel.state_type, field=channel.field, runtime=_runtime_type(channel)
        )
    )


def emit_channels(schema: Schema, channels: list[Channel]) -> str:
    states = sorted({f"{c.root}State" for c in channels})
    actions = sorted(a.mutation for c in channels for a in c.actions)
    runtime_types = ["ChannelModel", "ChannelSubscription", "Connection"] + (
        ["RequestOptions"] if actions else []
    )
    head = (
        'import { ChannelStore } from "./runtime/index.js";\n'
        f'import type {{ {", ".join(runtime_types)} }} from "./runtime/index.js";\n'
    )
    if actions:
        pascal = [a[:1].upper() + a[1:] for a in actions]
        result_types = [f"{p}MutationResult" for p in pascal] + [f"{p}MutationVariables" for p in pascal]
        head += f'import {{ {", ".join(actions)} }} from "./operations.js";\n'
        head += f'import type {{ {", ".join(sorted(result_types))} }} from "./operations.js";\n'
    states = sorted({*states, *(c.runtime for c in channels if c.runtime)})
    if states:
        head += f'import type {{ {", ".join(states)} }} from "./types.js";\n'
    return head + "\n" + "\n".join(_channel(schema, c) for c in channels)


def emit_hooks(channels: list[Channel]) -> str:
    head = HOOKS_HEAD
    types = sorted(
        {n for c in channels for n in (f"{c.root}State", f"{c.class_name}Args", f"{c.class_name}Actions")}
    )
    values = sorted(
        {n for c in channels for n in (f"{c.class_name}Document", f"{c.field}Model", f"{c.field}Actions")}
    )
    runtimes = {c.runtime for c in channels if c.runtime}
    if values:
        head += f'import {{ {", ".join(values)} }} from "./channels.js";\n'
        args = ", ".join(t for t in types if t.endswith(("Args", "Actions")))
        states = ", ".join(sorted({*(t for t in types if t.endswith("State")), *runtimes}))
        head += f'import type {{ {args} }} from "./channels.js";\n'
        head += f'import type {{ {states} }} from "./types.js";\n'
    head += "\n" + HOOKS_BODY
    hooks = [
        doc_comment(f"Live state of `{c.field}`: state, readiness, error and connection status.")
        + HOOK.format(name=c.class_name, state=c.state_type, field=c.field, runtime=_runtime_type(c))
        for c in channels
    ]
    return head + "\n" + "\n".join(hooks)
