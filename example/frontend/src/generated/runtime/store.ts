/**
 * `ChannelStore`: the client-side state of one channel subscription.
 *
 * It receives the channel's events (`apply`), keeps the server's flat records, layers optimistic writes
 * over them, and exposes the nested state (`state`) rebuilt incrementally with structural sharing (see
 * graph.ts for the identity and cost guarantees).
 *
 * Event handling:
 * - Events are applied as transactions. Events with `ready: false` (snapshot batches, a catch-up split in
 *   batches) are buffered; the event with `ready: true` applies everything buffered at once, so `state`
 *   never shows a half-received snapshot. While a snapshot streams after a reconnection, `state` keeps
 *   showing the previous complete state and `ready` is false.
 * - A transaction that starts with `reset: true` replaces the server state: it is diffed against the
 *   records held, so records that did not change keep their objects (a resync after a reconnection does
 *   not re-render what did not change).
 * - Out of order: a transaction whose final cursor is not newer than the last applied cursor of the same
 *   epoch is ignored (a reset is always applied). A new epoch is accepted as is.
 * - `cursor` is the cursor of the last applied transaction ("" before the first): pass it as `since`
 *   when subscribing again. `interrupt()` (the socket dropped) discards a partially buffered transaction,
 *   so the state and the cursor stay consistent with each other.
 * - Listeners are notified once per `apply()` that changed something observable (state, ready, cursor),
 *   once per optimistic change, and on `setError`.
 *
 * What components read is the public face of the class (`state`, `ready`, `error`, `status`, `getView()`,
 * `subscribe`, optimistic writes, record lookups). What the transport writes (events, interruptions, errors,
 * the stream's status) goes through the store's internal feed (`feedOf(store)`, not exported by the
 * package's index), so an app cannot feed a store by mistake. A store has at most one server subscription
 * at a time, however many components read it (the transport reference-counts it).
 *
 * The root record is the channel's anchor: the record of type `model.root` with id `options.rootId`, or,
 * without it, inferred after each reset: the only record of the root type, else the first one (in the
 * order the store first met their keys) that no other record references. A list channel (`model.many`) has one root per anchor, in the order of the
 * last `anchors` received; its `state` is the array of their nested states.
 */

import { isStale } from "./cursor.js";
import type { RxGraphQLError } from "./errors.js";
import { RecordGraph } from "./graph.js";
import type { GraphStats } from "./graph.js";
import { recordKey } from "./model.js";
import type { ChannelEvent, ChannelModel, ConnectionStatus, FlatRecord } from "./model.js";
import { notifyAll } from "./observable.js";
import { newTempId, OptimisticLayers } from "./optimistic.js";
import type { OptimisticChange, OptimisticHandle, OptimisticOptions } from "./optimistic.js";

export interface ChannelStoreOptions {
  /** Id of the anchor record (otherwise inferred, see the module doc). */
  readonly rootId?: string;
  /** Freeze every object handed out (development aid). */
  readonly freeze?: boolean;
}

export interface StoreStats extends GraphStats {
  /** Events passed to `apply()`. */
  eventsReceived: number;
  /** Events ignored because their cursor was not newer than the last applied one. */
  eventsIgnored: number;
}

/** What a component reads, as one object: a new object exactly when one of its fields changed. */
export interface ChannelView<State> {
  /** The nested state; null until the first complete snapshot. */
  readonly state: State | null;
  readonly ready: boolean;
  /** A GraphQL error (e.g. `FORBIDDEN`), a fatal transport error, or `UNAUTHORIZED` after a 4403. */
  readonly error: RxGraphQLError | null;
  /** The status of the stream feeding the store (`closed` while nothing subscribes it). */
  readonly status: ConnectionStatus;
  /** The subscription's runtime state, null until the server sends it. */
  readonly runtime: unknown;
  /** The cursor of the last applied transaction. */
  readonly cursor: string;
}

/** The server state of a store as a persistent cache keeps it (see persist.ts). */
export interface StoredState {
  readonly cursor: string;
  readonly records: readonly FlatRecord[];
  /** A list channel's anchor order. */
  readonly anchors?: readonly string[];
}

/**
 * What the transport writes into a store. Reached with `feedOf(store)`; not part of the package's index.
 */
export interface ChannelFeed {
  /**
   * Applies one channel event. Returns false when the event was ignored as out of date, true otherwise
   * (including buffered snapshot batches).
   */
  apply(event: ChannelEvent): boolean;
  /** The stream broke off: forget a partially received transaction (the next subscription resends it). */
  interrupt(): void;
  /** Reports an error for this channel (null clears it); listeners are notified. */
  setError(error: RxGraphQLError | null): void;
  /** Clears the reported error when it has this code. */
  clearError(code: string): void;
  /** The status of the stream feeding the store. */
  setStatus(status: ConnectionStatus): void;
  /** The server state to persist (null before the first complete snapshot, or while one streams). */
  stored(): StoredState | null;
  /** Loads a persisted server state into an empty store (ignored when the store already holds state). */
  restore(state: StoredState): boolean;
}

const FEED: unique symbol = Symbol("rxgraphql.feed");

/** The internal feed of a store (for the transport and persistence; apps never need it). */
export function feedOf<S>(store: ChannelStore<S>): ChannelFeed {
  return store[FEED];
}

interface Observed {
  readonly ready: boolean;
  readonly cursor: string;
  readonly error: RxGraphQLError | null;
  readonly revision: number;
  readonly root: string | null;
  readonly roots: readonly string[] | null;
  readonly runtime: unknown;
}

/**
 * A buffered transaction: its ops in arrival order, `keys[i]` written with `values[i]` (`null` deletes; a
 * later op on a key wins). Kept as two arrays rather than a map: a snapshot into an empty store is
 * written in one pass, without building a map of every key first.
 */
interface Pending {
  readonly reset: boolean;
  readonly keys: string[];
  readonly values: (FlatRecord | null)[];
  /** A list channel's new anchor order (ids), when the transaction changes it. */
  anchors?: readonly string[];
}

export class ChannelStore<State = unknown> {
  readonly model: ChannelModel;
  private readonly graph: RecordGraph;
  private readonly layers: OptimisticLayers;
  private readonly listeners = new Set<() => void>();
  private readonly notificationListeners = new Set<(notification: unknown) => void>();
  private readonly explicitRoot: string | undefined;
  private pending: Pending | null = null;
  private lastCursor = "";
  private isReady = false;
  private lastError: RxGraphQLError | null = null;
  private runtimeValue: unknown = null;
  private streamStatus: ConnectionStatus = "closed";
  private lastAnchors: readonly string[] | undefined;
  private view: ChannelView<State> | null = null;
  private readonly counters = { eventsReceived: 0, eventsIgnored: 0 };
  /** Set while a server transaction runs, so optimistic recomputes are folded into it. */
  private batching = false;

  constructor(model: ChannelModel, options: ChannelStoreOptions = {}) {
    this.model = model;
    this.graph = new RecordGraph(model, options.freeze === undefined ? {} : { freeze: options.freeze });
    this.layers = new OptimisticLayers(model, {
      recompute: (keys) => {
        for (const key of keys) this.recompute(key);
        if (!this.batching) this.emit();
      },
    });
    this.explicitRoot = options.rootId === undefined ? undefined : recordKey(model.root, options.rootId);
    if (this.explicitRoot !== undefined) this.graph.setRoot(this.explicitRoot);
    this[FEED] = {
      apply: (event) => this.applyEvent(event),
      interrupt: () => this.interruptStream(),
      setError: (error) => this.reportError(error),
      clearError: (code) => {
        if (this.lastError?.code === code) this.reportError(null);
      },
      setStatus: (status) => {
        if (status === this.streamStatus) return;
        this.streamStatus = status;
        this.emit();
      },
      stored: () => this.storedState(),
      restore: (state) => this.restoreState(state),
    };
  }

  /** @internal The transport's side of the store (see `feedOf`). */
  readonly [FEED]: ChannelFeed;

  /**
   * The nested state of the anchor; null before the first complete snapshot or when the anchor is gone.
   * For a list channel, the array of the anchors' nested states (null before the first snapshot).
   */
  get state(): State | null {
    return this.graph.build() as State | null;
  }

  /** True once a complete snapshot is applied and no snapshot batches are pending. */
  get ready(): boolean {
    return this.isReady;
  }

  /** Cursor of the last applied transaction ("" before the first); the `since` to resume from. */
  get cursor(): string {
    return this.lastCursor;
  }

  /** The subscription's runtime state (the channel's `RuntimeState`), null until the server sends it. */
  get runtime(): unknown {
    return this.runtimeValue;
  }

  /** The last error reported for this channel (cleared by the next applied event). */
  get error(): RxGraphQLError | null {
    return this.lastError;
  }

  /** The status of the stream feeding this store (`closed` while no subscription is active). */
  get status(): ConnectionStatus {
    return this.streamStatus;
  }

  /**
   * Everything a component reads, as one object that keeps its identity until something in it changes
   * (bound: hand it to `useSyncExternalStore` with `subscribe`).
   */
  readonly getView = (): ChannelView<State> => {
    const state = this.state;
    const view = this.view;
    if (
      view !== null &&
      view.state === state &&
      view.ready === this.isReady &&
      view.error === this.lastError &&
      view.status === this.streamStatus &&
      view.runtime === this.runtimeValue &&
      view.cursor === this.lastCursor
    ) {
      return view;
    }
    this.view = {
      state,
      ready: this.isReady,
      error: this.lastError,
      status: this.streamStatus,
      runtime: this.runtimeValue,
      cursor: this.lastCursor,
    };
    return this.view;
  };

  /** Counters for tests and benchmarks. */
  get stats(): Readonly<StoreStats> {
    return { ...this.graph.stats, ...this.counters };
  }

  /** The visible flat record (server record with optimistic layers applied). */
  getRecord(type: string, id: string): FlatRecord | undefined {
    return this.graph.get(recordKey(type, id));
  }

  /** The record as the server last sent it, without optimistic layers. */
  getServerRecord(type: string, id: string): FlatRecord | undefined {
    return this.graph.getServer(recordKey(type, id));
  }

  /** Bound: `store.subscribe` can be handed to `useSyncExternalStore` as is. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /**
   * Calls `listener` with each notification the server sends on this channel (not stored, not replayed
   * on resume). Returns the unsubscribe function.
   */
  readonly onNotification = (listener: (notification: unknown) => void): (() => void) => {
    this.notificationListeners.add(listener);
    return () => {
      this.notificationListeners.delete(listener);
    };
  };

  /** Bound snapshot getter for `useSyncExternalStore`. */
  readonly getState = (): State | null => this.state;

  private applyEvent(event: ChannelEvent): boolean {
    this.counters.eventsReceived++;
    const before = this.observable();
    // Runtime state belongs to this subscription alone and is not versioned: the latest sent wins.
    if (event.runtime !== undefined && event.runtime !== null) this.runtimeValue = event.runtime;
    for (const notification of event.notifications ?? []) {
      for (const listener of [...this.notificationListeners]) listener(notification);
    }
    if (event.reset) this.pending = { reset: true, keys: [], values: [] };
    const tx = this.pending ?? { reset: false, keys: [], values: [] };
    for (const record of event.records) {
      // a record without a type name or an id cannot be placed: skip it rather than corrupt the index
      if (typeof record.__typename !== "string" || record.id == null) continue;
      const id = String(record.id);
      const normalized = record.id === id ? record : { ...record, id };
      tx.keys.push(recordKey(record.__typename, id));
      tx.values.push(normalized);
    }
    for (const ref of event.deleted) {
      if (typeof ref.type === "string" && ref.id != null) {
        tx.keys.push(recordKey(ref.type, String(ref.id)));
        tx.values.push(null);
      }
    }
    if (Array.isArray(event.anchors)) tx.anchors = event.anchors.map(String);

    if (!event.ready) {
      this.pending = tx;
      this.isReady = false;
      this.lastError = null;
      this.emitIfChanged(before);
      return true;
    }
    this.pending = null;
    this.lastError = null;
    this.isReady = true;
    if (!tx.reset && event.cursor !== "" && isStale(event.cursor, this.lastCursor)) {
      this.counters.eventsIgnored++;
      this.emitIfChanged(before);
      return false;
    }
    if (event.cursor !== "") this.lastCursor = event.cursor;
    this.commitTransaction(tx);
    this.emitIfChanged(before);
    return true;
  }

  private storedState(): StoredState | null {
    if (this.lastCursor === "" || this.pending !== null) return null;
    const base = { cursor: this.lastCursor, records: [...this.graph.serverRecords()] };
    return this.lastAnchors === undefined ? base : { ...base, anchors: this.lastAnchors };
  }

  private restoreState(state: StoredState): boolean {
    if (this.graph.serverSize > 0 || this.lastCursor !== "" || this.pending !== null) return false;
    const before = this.observable();
    const tx: Pending = { reset: true, keys: [], values: [] };
    for (const record of state.records) {
      tx.keys.push(recordKey(record.__typename, String(record.id)));
      tx.values.push(record);
    }
    if (state.anchors !== undefined) tx.anchors = state.anchors;
    this.lastCursor = state.cursor;
    this.commitTransaction(tx);
    this.isReady = true;
    this.emitIfChanged(before);
    return true;
  }

  private interruptStream(): void {
    if (this.pending === null) return;
    this.pending = null;
    const before = this.observable();
    this.isReady = this.lastCursor !== "";
    this.emitIfChanged(before);
  }

  private reportError(error: RxGraphQLError | null): void {
    if (error === this.lastError) return;
    this.lastError = error;
    this.emit();
  }

  /** Drops every record, layer, cursor and error: the next subscription starts from a full snapshot. */
  clear(): void {
    this.pending = null;
    this.batching = true;
    try {
      this.layers.clear();
      const keys = [...this.graph.serverKeys()];
      for (const key of keys) {
        this.graph.setServer(key, undefined);
        this.recompute(key);
      }
    } finally {
      this.batching = false;
    }
    this.lastCursor = "";
    this.lastAnchors = undefined;
    this.isReady = false;
    this.lastError = null;
    if (this.explicitRoot === undefined) this.graph.setRoot(null);
    this.graph.setRoots(null);
    this.emit();
  }

  /**
   * Applies an optimistic write as a layer over the server state (see optimistic.ts). A layer with the
   * same `id` is replaced.
   */
  optimistic(id: string, change: OptimisticChange, options?: OptimisticOptions): OptimisticHandle {
    return this.layers.add(id, change, options);
  }

  /** A fresh temporary id for a record created optimistically. */
  tempId(): string {
    return newTempId();
  }

  /** The real id of a temporary id once its write was committed with an id map; otherwise `id`. */
  resolveId(id: string): string {
    return this.layers.resolveId(id);
  }

  // ----------------------------------------------------------------------------------------------------

  private commitTransaction(tx: Pending): void {
    const written: string[] = [];
    this.batching = true;
    try {
      if (tx.reset && this.graph.serverSize === 0 && this.layers.size === 0 && this.graph.size === 0) {
        // A snapshot into an empty store: nothing to diff against, nothing built yet to invalidate and no
        // layer to tell of the writes, so the records go in without dirty tracking.
        this.graph.load(tx.keys, tx.values);
      } else {
        const ops = new Map<string, FlatRecord | null>();
        for (let i = 0; i < tx.keys.length; i++) ops.set(tx.keys[i] as string, tx.values[i] ?? null);
        if (tx.reset) {
          for (const key of [...this.graph.serverKeys()]) {
            if (!ops.has(key)) {
              this.graph.setServer(key, undefined);
              written.push(key);
              this.recomputeWith(key, undefined);
            }
          }
        }
        for (const [key, record] of ops) {
          if (record === null) {
            if (!this.graph.setServer(key, undefined)) continue;
          } else {
            this.graph.setServer(key, record);
          }
          written.push(key);
          this.recomputeWith(key, record ?? undefined);
        }
      }
      if (this.model.many === true) {
        const root = this.model.root;
        if (tx.anchors !== undefined) {
          this.lastAnchors = tx.anchors;
          this.graph.setRoots(tx.anchors.map((id) => recordKey(root, id)));
        }
      } else if (tx.reset && this.explicitRoot === undefined) {
        this.graph.setRoot(this.inferRoot());
      }
      this.layers.serverWrote(written, this.lastCursor, tx.reset);
    } finally {
      this.batching = false;
    }
  }

  private recompute(key: string): void {
    this.recomputeWith(key, this.graph.getServer(key));
  }

  /** Writes the visible record of `key` given its server record. */
  private recomputeWith(key: string, server: FlatRecord | undefined): void {
    this.graph.set(key, this.layers.touches(key) ? this.layers.apply(key, server) : server);
  }

  private inferRoot(): string | null {
    const current = this.graph.currentRoot;
    if (current !== null && this.graph.getServer(current) !== undefined) return current;
    const prefix = `${this.model.root}:`;
    let first: string | null = null;
    let unreferenced: string | null = null;
    let count = 0;
    for (const key of this.graph.serverKeys()) {
      if (!key.startsWith(prefix)) continue;
      count++;
      first ??= key;
      if (unreferenced === null && this.graph.parentsOf(key).size === 0) unreferenced = key;
    }
    if (count <= 1) return first;
    return unreferenced ?? first;
  }

  private observable(): Observed {
    return {
      ready: this.isReady,
      cursor: this.lastCursor,
      error: this.lastError,
      revision: this.graph.revision,
      root: this.graph.currentRoot,
      roots: this.graph.currentRoots,
      runtime: this.runtimeValue,
    };
  }

  private emitIfChanged(before: Observed): void {
    if (
      before.revision !== this.graph.revision ||
      before.root !== this.graph.currentRoot ||
      before.roots !== this.graph.currentRoots ||
      before.ready !== this.isReady ||
      before.cursor !== this.lastCursor ||
      before.error !== this.lastError ||
      before.runtime !== this.runtimeValue
    ) {
      this.emit();
    }
  }

  private emit(): void {
    notifyAll(this.listeners);
  }
}

