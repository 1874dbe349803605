/**
 * Optimistic writes as layers over the server state.
 *
 * The server's records are never modified by an optimistic write. Each write is a layer: a list of
 * operations (merge fields into a record, insert/remove an id in a list reference, delete a record) that
 * is re-applied, in creation order, on top of the latest server record every time either changes. So:
 * - `rollback()` is exact: the layer is dropped and the affected records are recomputed from the server
 *   state as it is now (including server patches that arrived while the layer was active);
 * - list operations compose with concurrent server changes to the same list (an insert is re-applied to
 *   the server's newest list instead of overwriting it with a stale copy);
 * - `commit(idMap, cursor)` maps temporary ids to the real ones (in keys, references and lists) and keeps the
 *   layer until the store has applied the write's own commit: `cursor` is the position of that commit in the
 *   anchor's stream, as the mutation's result carries it. The layer settles exactly when the store's cursor
 *   reaches it (or a reset of a newer epoch replaced the state), so the UI never flickers back to the old
 *   value between the mutation's response and its echo, and never keeps a stale value once the echo is in.
 *   An echo that does not come within `echoTimeoutMs` is reported: the layer is dropped and the write's
 *   status becomes `unconfirmed` (`settled` resolves with it).
 * - Without a cursor (a server that does not send one), the layer stays until the server has written every
 *   record it touches, or `settleMs` passed.
 */

import { parseCursor } from "./cursor.js";

import { recordKey } from "./model.js";
import type { ChannelModel, FlatRecord, RecordRef } from "./model.js";

/** Fields to merge into a record (`__typename` and `id` name the record; other fields are optional). */
export interface FlatRecordPatch {
  readonly __typename: string;
  readonly id: string;
  readonly [field: string]: unknown;
}

/** Insert `ref` (a child id) into the list reference `field` of record `type:id`, at `index` (default: end). */
export interface RefInsert {
  readonly type: string;
  readonly id: string;
  readonly field: string;
  readonly ref: string;
  readonly index?: number;
}

/** Remove `ref` from the list reference `field` of record `type:id` (or null it, for a single reference). */
export interface RefRemoval {
  readonly type: string;
  readonly id: string;
  readonly field: string;
  readonly ref: string;
}

/** One optimistic write. Operations apply in this order: upserts, insertRefs, removeRefs, deletes. */
export interface OptimisticChange {
  readonly upserts?: readonly FlatRecordPatch[];
  readonly insertRefs?: readonly RefInsert[];
  readonly removeRefs?: readonly RefRemoval[];
  readonly deletes?: readonly RecordRef[];
}

export interface OptimisticOptions {
  /** After `commit()` without a cursor, drop the layer at the latest after this many ms. Default 10000. */
  readonly settleMs?: number;
  /** After `commit()` with a cursor, report the write `unconfirmed` when its echo is not applied within this many ms. Default 10000. */
  readonly echoTimeoutMs?: number;
}

/**
 * `pending` until committed or rolled back; `committed` until the echo arrives; then `settled`.
 * `unconfirmed`: committed at a cursor the store did not reach within `echoTimeoutMs` (the layer is dropped).
 */
export type OptimisticStatus = "pending" | "committed" | "settled" | "rolledBack" | "unconfirmed";

/** Returned by `ChannelStore.optimistic()`. */
export interface OptimisticHandle {
  readonly id: string;
  readonly status: OptimisticStatus;
  /** Resolves with the final status: `settled`, `rolledBack` or `unconfirmed`. */
  readonly settled: Promise<OptimisticStatus>;
  /** Undo the write now: the state returns to the server state (plus other layers). Idempotent. */
  rollback(): void;
  /**
   * The write succeeded. `idMap` maps temporary ids used by this write to the ids the server assigned;
   * `cursor` is the position of the write's commit in the anchor's stream (the mutation result's `cursor`).
   * The layer stays until the store has applied that position (without a cursor: until the server echo has
   * reached every record it touches), then disappears.
   */
  commit(idMap?: Readonly<Record<string, string>>, cursor?: string | null): void;
}

type Op =
  | { readonly kind: "upsert"; readonly patch: FlatRecordPatch }
  | { readonly kind: "insert"; readonly field: string; readonly ref: string; readonly index: number | undefined }
  | { readonly kind: "remove"; readonly field: string; readonly ref: string }
  | { readonly kind: "delete" };

interface Layer {
  readonly id: string;
  ops: Map<string, Op[]>;
  readonly createdAt: number;
  status: OptimisticStatus;
  timer: ReturnType<typeof setTimeout> | undefined;
  settleMs: number;
  echoTimeoutMs: number;
  /** The cursor of the write's commit, once committed with one. */
  at: string | undefined;
  finished: (status: OptimisticStatus) => void;
}

/** What the layers need from their owner (the store). */
export interface LayerHost {
  /** Recompute the visible records of these keys and notify once. */
  recompute(keys: Iterable<string>): void;
}

let tempCounter = 0;

/** A temporary id for a record created optimistically; unique in this JavaScript realm. */
export function newTempId(): string {
  tempCounter += 1;
  return `tmp-${tempCounter}`;
}

/** The stack of optimistic layers of one store. */
export class OptimisticLayers {
  private layers: Layer[] = [];
  /** key -> number of layers with operations on it. */
  private readonly touched = new Map<string, number>();
  /** temporary id -> real id, for `resolveId`. */
  private readonly idMap = new Map<string, string>();
  /** Server transactions applied so far, and the last one that wrote each key. */
  private serverSeq = 0;
  private readonly lastServerWrite = new Map<string, number>();
  /** The store's cursor after the last server transaction. */
  private serverCursor = "";

  constructor(
    private readonly model: ChannelModel,
    private readonly host: LayerHost,
  ) {}

  get size(): number {
    return this.layers.length;
  }

  touches(key: string): boolean {
    return this.touched.has(key);
  }

  /** The real id for a temporary id once known (otherwise `id` itself). */
  resolveId(id: string): string {
    return this.idMap.get(id) ?? id;
  }

  /** The visible record for `key`: the server record with every layer's operations applied in order. */
  apply(key: string, server: FlatRecord | undefined): FlatRecord | undefined {
    let current = server;
    for (const layer of this.layers) {
      const ops = layer.ops.get(key);
      if (ops === undefined) continue;
      for (const op of ops) current = applyOp(current, op, this.model);
    }
    return current;
  }

  add(id: string, change: OptimisticChange, options: OptimisticOptions = {}): OptimisticHandle {
    const existing = this.layers.find((l) => l.id === id);
    const affected = new Set<string>();
    if (existing !== undefined) this.drop(existing, "rolledBack", affected);
    let finished: (status: OptimisticStatus) => void = () => {};
    const settled = new Promise<OptimisticStatus>((resolve) => {
      finished = resolve;
    });
    const layer: Layer = {
      id,
      ops: compile(change),
      createdAt: this.serverSeq,
      status: "pending",
      timer: undefined,
      settleMs: options.settleMs ?? 10_000,
      echoTimeoutMs: options.echoTimeoutMs ?? 10_000,
      at: undefined,
      finished,
    };
    this.layers.push(layer);
    for (const key of layer.ops.keys()) {
      this.touched.set(key, (this.touched.get(key) ?? 0) + 1);
      affected.add(key);
    }
    this.host.recompute(affected);
    const self = this;
    return {
      id,
      get status() {
        return layer.status;
      },
      settled,
      rollback() {
        if (layer.status === "pending" || layer.status === "committed") {
          const keys = new Set<string>();
          self.drop(layer, "rolledBack", keys);
          self.host.recompute(keys);
        }
      },
      commit(idMap, cursor) {
        if (layer.status !== "pending") return;
        self.commit(layer, idMap ?? {}, cursor ?? undefined);
      },
    };
  }

  /** Called by the store after each server transaction, with the keys it wrote and its cursor after it. */
  serverWrote(keys: Iterable<string>, cursor = "", reset = false): void {
    this.serverSeq += 1;
    const previous = this.serverCursor;
    this.serverCursor = cursor;
    const newEpoch = reset && parseCursor(previous)?.epoch !== parseCursor(cursor)?.epoch;
    // Only writes made after a layer's creation matter: without layers there is nothing to record.
    if (this.layers.length === 0) return;
    for (const key of keys) this.lastServerWrite.set(key, this.serverSeq);
    const affected = new Set<string>();
    for (const layer of [...this.layers]) {
      if (layer.status !== "committed") continue;
      if (layer.at !== undefined ? newEpoch || reached(cursor, layer.at) : this.echoed(layer)) {
        this.drop(layer, "settled", affected);
      }
    }
    if (affected.size > 0) this.host.recompute(affected);
  }

  /** Drops every layer (e.g. when the store is cleared). */
  clear(): void {
    const keys = new Set<string>();
    for (const layer of [...this.layers]) this.drop(layer, "rolledBack", keys);
    this.host.recompute(keys);
  }

  private commit(layer: Layer, idMap: Readonly<Record<string, string>>, at: string | undefined): void {
    const affected = new Set<string>(layer.ops.keys());
    const mapping = new Map(Object.entries(idMap));
    if (mapping.size > 0) {
      for (const [temp, real] of mapping) this.idMap.set(temp, real);
      for (const key of layer.ops.keys()) this.untouch(key);
      layer.ops = remap(layer.ops, mapping, this.model);
      for (const key of layer.ops.keys()) {
        this.touched.set(key, (this.touched.get(key) ?? 0) + 1);
        affected.add(key);
      }
    }
    layer.status = "committed";
    if (at !== undefined && parseCursor(at) !== null) {
      layer.at = at;
      if (reached(this.serverCursor, at)) {
        this.drop(layer, "settled", affected);
      } else {
        layer.timer = setTimeout(() => {
          const keys = new Set<string>();
          this.drop(layer, "unconfirmed", keys);
          this.host.recompute(keys);
        }, layer.echoTimeoutMs);
      }
    } else if (this.echoed(layer)) {
      this.drop(layer, "settled", affected);
    } else {
      layer.timer = setTimeout(() => {
        const keys = new Set<string>();
        this.drop(layer, "settled", keys);
        this.host.recompute(keys);
      }, layer.settleMs);
    }
    this.host.recompute(affected);
  }

  /** True when the server wrote every key of the layer after the layer was created. */
  private echoed(layer: Layer): boolean {
    for (const key of layer.ops.keys()) {
      if ((this.lastServerWrite.get(key) ?? 0) <= layer.createdAt) return false;
    }
    return true;
  }

  private drop(layer: Layer, status: OptimisticStatus, affected: Set<string>): void {
    const at = this.layers.indexOf(layer);
    if (at === -1) return;
    this.layers.splice(at, 1);
    if (layer.timer !== undefined) clearTimeout(layer.timer);
    layer.status = status;
    layer.finished(status);
    for (const key of layer.ops.keys()) {
      this.untouch(key);
      affected.add(key);
    }
    if (this.layers.length === 0) this.lastServerWrite.clear();
  }

  private untouch(key: string): void {
    const n = (this.touched.get(key) ?? 0) - 1;
    if (n > 0) this.touched.set(key, n);
    else this.touched.delete(key);
  }
}

/** True when the store, at cursor `current`, has applied the transaction at cursor `target`. */
function reached(current: string, target: string): boolean {
  const c = parseCursor(current);
  const t = parseCursor(target);
  return c !== null && t !== null && c.epoch === t.epoch && c.version >= t.version;
}

function compile(change: OptimisticChange): Map<string, Op[]> {
  const ops = new Map<string, Op[]>();
  const push = (key: string, op: Op): void => {
    const list = ops.get(key);
    if (list === undefined) ops.set(key, [op]);
    else list.push(op);
  };
  for (const patch of change.upserts ?? []) {
    push(recordKey(patch.__typename, String(patch.id)), { kind: "upsert", patch });
  }
  for (const ins of change.insertRefs ?? []) {
    push(recordKey(ins.type, ins.id), { kind: "insert", field: ins.field, ref: ins.ref, index: ins.index });
  }
  for (const rem of change.removeRefs ?? []) {
    push(recordKey(rem.type, rem.id), { kind: "remove", field: rem.field, ref: rem.ref });
  }
  for (const del of change.deletes ?? []) push(recordKey(del.type, del.id), { kind: "delete" });
  return ops;
}

function applyOp(current: FlatRecord | undefined, op: Op, model: ChannelModel): FlatRecord | undefined {
  switch (op.kind) {
    case "delete":
      return undefined;
    case "upsert":
      return current === undefined ? { ...op.patch } : { ...current, ...op.patch };
    case "insert": {
      if (current === undefined) return current;
      const value = current[op.field];
      const list: readonly unknown[] = Array.isArray(value) ? value : [];
      if (list.includes(op.ref)) return current;
      const next = list.slice();
      const at = op.index === undefined ? next.length : Math.max(0, Math.min(op.index, next.length));
      next.splice(at, 0, op.ref);
      return { ...current, [op.field]: next };
    }
    case "remove": {
      if (current === undefined) return current;
      const value = current[op.field];
      if (Array.isArray(value)) {
        if (!value.includes(op.ref)) return current;
        return { ...current, [op.field]: value.filter((v) => v !== op.ref) };
      }
      const many = model.types[current.__typename]?.refs[op.field]?.many ?? false;
      if (!many && value === op.ref) return { ...current, [op.field]: null };
      return current;
    }
  }
}

/** The layer's operations with temporary ids replaced by real ones (keys, ids, references, list entries). */
function remap(ops: Map<string, Op[]>, mapping: ReadonlyMap<string, string>, model: ChannelModel): Map<string, Op[]> {
  const id = (value: string): string => mapping.get(value) ?? value;
  const out = new Map<string, Op[]>();
  for (const [key, list] of ops) {
    const at = key.indexOf(":");
    const newKey = recordKey(key.slice(0, at), id(key.slice(at + 1)));
    const mapped = list.map((op): Op => {
      switch (op.kind) {
        case "delete":
          return op;
        case "insert":
          return { ...op, ref: id(op.ref) };
        case "remove":
          return { ...op, ref: id(op.ref) };
        case "upsert": {
          const refs = model.types[op.patch.__typename]?.refs ?? {};
          const patch: Record<string, unknown> = { ...op.patch, id: id(String(op.patch.id)) };
          for (const field in refs) {
            const value = patch[field];
            if (typeof value === "string") patch[field] = id(value);
            else if (Array.isArray(value)) patch[field] = value.map((v) => (typeof v === "string" ? id(v) : v));
          }
          return { kind: "upsert", patch: patch as FlatRecordPatch };
        }
      }
    });
    const existing = out.get(newKey);
    out.set(newKey, existing === undefined ? mapped : existing.concat(mapped));
  }
  return out;
}
