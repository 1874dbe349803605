/**
 * React bindings. This is the only module that imports React.
 *
 * `useChannel` subscribes a component to a channel: one `ChannelStore` per (channel, query, variables),
 * read with one `useSyncExternalStore` over the store's memoized view (tearing-free, and a re-render only
 * when the state object, `ready`, the error, the runtime state or the stream's status actually changed). The subscription lives in an effect, so React
 * StrictMode's mount -> unmount -> mount leaves exactly one subscription: the first one is disposed before
 * graphql-ws sends it (graphql-ws starts operations asynchronously) and the second one resumes from the
 * same store. Unmounting unsubscribes; nothing is left registered.
 */

import { useEffect, useRef, useSyncExternalStore } from "react";
import type { ChannelModel, ConnectionStatus } from "./model.js";
import { persistStore, restoreOf } from "./persist.js";
import type { PersistentCache } from "./persist.js";
import { ChannelStore } from "./store.js";
import type { ChannelView as StoreView } from "./store.js";
import { stableKey } from "./transport.js";
import type { Connection } from "./transport.js";

export interface UseChannelOptions<S> {
  /**
   * Use this store instead of one owned by the hook (to share it between components, or keep the state
   * across unmounts). Components sharing a store share its one server subscription.
   */
  readonly store?: ChannelStore<S>;
  /** Id of the anchor record, when it cannot be inferred (see ChannelStore). */
  readonly rootId?: string;
  /** False to hold the subscription (e.g. while an argument is not known yet). Default true. */
  readonly enabled?: boolean;
  readonly operationName?: string;
  /**
   * Keep the store's server state in this cache: a remount or a reload renders the last state at once
   * and resumes with `since`. `scope` (e.g. the signed-in user's id) separates the entries of two users.
   */
  readonly persist?: { readonly cache: PersistentCache; readonly scope?: string };
}

/**
 * What `useChannel` returns: the store's view (`state`, `ready`, `error`, `status`, `runtime`, `cursor`),
 * one object that keeps its identity while nothing in it changed, plus the store.
 */
export interface ChannelView<S> extends StoreView<S> {
  /** The store behind the view (for optimistic writes and record lookups). */
  readonly store: ChannelStore<S>;
}

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

  const cache = options.persist?.cache;
  const scope = options.persist?.scope ?? "";
  useEffect(() => {
    if (cache === undefined) return undefined;
    const persistence = persistStore(store, { cache, key: `${scope}\u0000${model.field}\u0000${varsKey}` });
    return () => persistence.stop();
  }, [cache, scope, store, model, varsKey]);

  useEffect(() => {
    if (connection === null || !enabled) return undefined;
    let subscription: { unsubscribe(): void } | null = null;
    let cancelled = false;
    const start = (): void => {
      if (cancelled) return;
      subscription = connection.subscribeChannel(
        store,
        query,
        latestVariables.current,
        operationName === undefined ? {} : { operationName },
      );
    };
    // a state being restored from the persistent cache first, so the subscription resumes from its cursor
    const restoring = restoreOf(store);
    if (restoring === undefined) start();
    else void restoring.then(start, start);
    return () => {
      cancelled = true;
      subscription?.unsubscribe();
    };
    // `varsKey` stands for `variables` (a new object at every render).
  }, [connection, store, enabled, query, varsKey, operationName]);

  const view = useSyncExternalStore(store.subscribe, store.getView, store.getView);
  const memo = useRef<{ view: StoreView<S>; store: ChannelStore<S>; out: ChannelView<S> } | null>(null);
  if (memo.current === null || memo.current.view !== view || memo.current.store !== store) {
    memo.current = { view, store, out: { ...view, store } };
  }
  return memo.current.out;
}

/** Subscribes to a connection's status. */
export function useConnectionStatus(connection: Connection): ConnectionStatus {
  const get = (): ConnectionStatus => connection.status.value;
  return useSyncExternalStore(connection.status.subscribe, get, get);
}

/** JSON with object keys sorted, so equal variables give equal keys whatever their key order. */
export const stableStringify: (value: unknown) => string = stableKey;
