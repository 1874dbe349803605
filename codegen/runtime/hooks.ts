/**
 * React bindings. This is the only module that imports React.
 *
 * `useChannel` subscribes a component to a channel: one `ChannelStore` per (channel, query, variables),
 * read with `useSyncExternalStore` (tearing-free, and a re-render only when the state object, `ready`,
 * the error or the connection status actually changed). The subscription lives in an effect, so React
 * StrictMode's mount -> unmount -> mount leaves exactly one subscription: the first one is disposed before
 * graphql-ws sends it (graphql-ws starts operations asynchronously) and the second one resumes from the
 * same store. Unmounting unsubscribes; nothing is left registered.
 */

import { useEffect, useRef, useSyncExternalStore } from "react";
import type { RxGraphQLError } from "./errors.js";
import type { ChannelModel } from "./model.js";
import { ChannelStore } from "./store.js";
import type { Connection, ConnectionStatus } from "./transport.js";

export interface UseChannelOptions<S> {
  /** Use this store instead of one owned by the hook (to share it, or keep the state across unmounts). */
  readonly store?: ChannelStore<S>;
  /** Id of the anchor record, when it cannot be inferred (see ChannelStore). */
  readonly rootId?: string;
  /** False to hold the subscription (e.g. while an argument is not known yet). Default true. */
  readonly enabled?: boolean;
  readonly operationName?: string;
}

export interface ChannelView<S> {
  /** The nested state; null until the first complete snapshot. */
  readonly state: S | null;
  readonly ready: boolean;
  /** A GraphQL error (e.g. `FORBIDDEN`) or a fatal transport error of this channel. */
  readonly error: RxGraphQLError | null;
  readonly status: ConnectionStatus;
  /** The subscription's runtime state (typed by the generated hook), null until the server sends it. */
  readonly runtime: unknown;
  /** The store behind the view (for optimistic writes and record lookups). */
  readonly store: ChannelStore<S>;
}

const closedStatus = {
  subscribe: (): (() => void) => () => {},
  get: (): ConnectionStatus => "closed",
};

/** Subscribes to a channel and returns its live state. */
export function useChannel<S>(
  connection: Connection | null,
  model: ChannelModel,
  query: string,
  variables: Readonly<Record<string, unknown>>,
  options: UseChannelOptions<S> = {},
): ChannelView<S> {
  const varsKey = stableStringify(variables);
  const rootId = options.rootId;
  const key = `${model.field}\u0000${query}\u0000${varsKey}\u0000${rootId ?? ""}`;
  const owned = useRef<{ key: string; store: ChannelStore<S> } | null>(null);
  let store = options.store;
  if (store === undefined) {
    if (owned.current === null || owned.current.key !== key) {
      owned.current = { key, store: new ChannelStore<S>(model, rootId === undefined ? {} : { rootId }) };
    }
    store = owned.current.store;
  }
  const enabled = options.enabled ?? true;
  const operationName = options.operationName;
  const latestVariables = useRef(variables);
  latestVariables.current = variables;

  useEffect(() => {
    if (connection === null || !enabled) return undefined;
    const subscription = connection.subscribeChannel(
      model,
      query,
      latestVariables.current,
      store,
      operationName === undefined ? {} : { operationName },
    );
    return () => subscription.unsubscribe();
    // `varsKey` stands for `variables` (a new object at every render).
  }, [connection, store, enabled, model, query, varsKey, operationName]);

  const state = useSyncExternalStore(store.subscribe, store.getState, store.getState);
  const readStore = store;
  const ready = useSyncExternalStore(store.subscribe, () => readStore.ready, () => readStore.ready);
  const error = useSyncExternalStore(store.subscribe, () => readStore.error, () => readStore.error);
  const runtime = useSyncExternalStore(store.subscribe, () => readStore.runtime, () => readStore.runtime);
  const statusSource =
    connection === null
      ? closedStatus
      : { subscribe: connection.status.subscribe, get: () => connection.status.value };
  const status = useSyncExternalStore(statusSource.subscribe, statusSource.get, statusSource.get);
  return { state, ready, error, status, runtime, store };
}

/** Subscribes to a connection's status. */
export function useConnectionStatus(connection: Connection): ConnectionStatus {
  const get = (): ConnectionStatus => connection.status.value;
  return useSyncExternalStore(connection.status.subscribe, get, get);
}

/** JSON with object keys sorted, so equal variables give equal keys whatever their key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}
