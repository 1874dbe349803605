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
 * The root record is the channel's anchor: the record of type `model.root` with id `options.rootId`, or,
 * without it, inferred after each reset: the only record of the root type, else the first one that no
 * other record references. A list channel (`model.many`) has one root per anchor, in the order of the
 * last `anchors` received; its `state` is the array of their nested states.
 */

import { isStale } from "./cursor.js";
import type { RxGraphQLError } from "./errors.js";
import { RecordGraph } from "./graph.js";
import type { GraphStats } from "./graph.js";
import { recordKey } from "./model.js";
import type { ChannelEvent, ChannelModel, FlatRecord } from "./model.js";
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

interface Observed {
  readonly ready: boolean;
  readonly cursor: string;
  readonly error: RxGraphQLError | null;
  readonly written: number;
  readonly root: string | null;
  readonly roots: readonly string[] | null;
  readonly runtime: unknown;
}

/** A buffered transaction: ops by key (last one wins; `null` deletes), in arrival order. */
interface Pending {
  readonly reset: boolean;
  readonly ops: Map<string, FlatRecord | null>;
  /** A list channel's new anchor order (ids), when the transaction changes it. */
  anchors?: readonly string[];
}

export class ChannelStore<State = unknown> {
  readonly model: ChannelModel;
  private readonly server = new Map<string, FlatRecord>();
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
  }

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
    return this.server.get(recordKey(type, id));
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

  /**
   * Applies one channel event. Returns false when the event was ignored as out of date, true otherwise
   * (including buffered snapshot batches).
   */
  apply(event: ChannelEvent): boolean {
    this.counters.eventsReceived++;
    const before = this.observable();
    // Runtime state belongs to this subscription alone and is not versioned: the latest sent wins.
    if (event.runtime !== undefined && event.runtime !== null) this.runtimeValue = event.runtime;
    for (const notification of event.notifications ?? []) {
      for (const listener of [...this.notificationListeners]) listener(notification);
    }
    if (event.reset) this.pending = { reset: true, ops: new Map() };
    const tx = this.pending ?? { reset: false, ops: new Map<string, FlatRecord | null>() };
    for (const record of event.records) {
      // a record without a type name or an id cannot be placed: skip it rather than corrupt the index
      if (typeof record.__typename !== "string" || record.id == null) continue;
      const id = String(record.id);
      const normalized = record.id === id ? record : { ...record, id };
      tx.ops.set(recordKey(record.__typename, id), normalized);
    }
    for (const ref of event.deleted) {
      if (typeof ref.type === "string" && ref.id != null) tx.ops.set(recordKey(ref.type, String(ref.id)), null);
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
    this.commitTransaction(tx);
    if (event.cursor !== "") this.lastCursor = event.cursor;
    this.emitIfChanged(before);
    return true;
  }

  /** The stream broke off: forget a partially received transaction (the next subscription resends it). */
  interrupt(): void {
    if (this.pending === null) return;
    this.pending = null;
    const before = this.observable();
    this.isReady = this.lastCursor !== "";
    this.emitIfChanged(before);
  }

  /** Reports an error for this channel (null clears it); listeners are notified. */
  setError(error: RxGraphQLError | null): void {
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
      const keys = [...this.server.keys()];
      this.server.clear();
      for (const key of keys) this.recompute(key);
    } finally {
      this.batching = false;
    }
    this.lastCursor = "";
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
      if (tx.reset) {
        for (const key of [...this.server.keys()]) {
          if (!tx.ops.has(key)) {
            this.server.delete(key);
            written.push(key);
            this.recompute(key);
          }
        }
      }
      for (const [key, record] of tx.ops) {
        if (record === null) {
          if (!this.server.delete(key)) continue;
        } else {
          this.server.set(key, record);
        }
        written.push(key);
        this.recompute(key);
      }
      if (this.model.many === true) {
        const root = this.model.root;
        if (tx.anchors !== undefined) this.graph.setRoots(tx.anchors.map((id) => recordKey(root, id)));
      } else if (tx.reset && this.explicitRoot === undefined) {
        this.graph.setRoot(this.inferRoot());
      }
      this.layers.serverWrote(written);
    } finally {
      this.batching = false;
    }
  }

  private recompute(key: string): void {
    const server = this.server.get(key);
    this.graph.set(key, this.layers.touches(key) ? this.layers.apply(key, server) : server);
  }

  private inferRoot(): string | null {
    const current = this.graph.currentRoot;
    if (current !== null && this.server.has(current)) return current;
    const prefix = `${this.model.root}:`;
    let first: string | null = null;
    let unreferenced: string | null = null;
    let count = 0;
    for (const key of this.server.keys()) {
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
      written: this.graph.stats.recordsWritten,
      root: this.graph.currentRoot,
      roots: this.graph.currentRoots,
      runtime: this.runtimeValue,
    };
  }

  private emitIfChanged(before: Observed): void {
    if (
      before.written !== this.graph.stats.recordsWritten ||
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

