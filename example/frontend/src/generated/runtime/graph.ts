/**
 * The normalized record graph and its incremental nested view.
 *
 * Records are kept flat, keyed `type:id`, with a reverse index child -> parents. Writing a record marks it
 * and its ancestors dirty (walking the reverse index, stopping at nodes already dirty); reading the nested
 * view rebuilds, from the root, only dirty nodes and reuses every clean cached subtree. A rebuilt node that
 * turns out shallowly equal to its previous version keeps the previous object, so identity changes exactly
 * where content changed. Objects handed out are never mutated (new ones are built instead).
 *
 * Rendering rules:
 * - a single reference that is null, or points to a record not present (yet), renders as `null`;
 *   a list entry pointing to a missing record is left out. When the record arrives the parents are rebuilt.
 * - one record is one object, however many places reference it (shared children).
 * - cycles are cut: a reference to a record that is being built at that moment (an ancestor on the path
 *   from the root) renders as `null` (single) or is left out (list). The nested state is therefore always a
 *   finite tree-with-sharing; the complete flat record, cyclic reference included, stays readable through
 *   `get()`. Nodes holding a cut are re-evaluated at every rebuild, since which edge closes the cycle
 *   depends on the path the root reaches them by.
 *
 * Which reference closes a cycle depends only on the records and the root, never on the order writes
 * arrived in: a rebuild visits dirty children in the order a build from scratch would (field order, then
 * list order), so an unrelated update does not move a cut.
 *
 * Cost: a write costs the size of the record plus the number of ancestors newly marked dirty (the depth,
 * for a tree); the next read builds one object per dirty node and one array per list holding a changed
 * child. Such a list is copied with `slice()` and patched at the changed positions (found by scanning a
 * short list, or in a position index built once per long list): a plain array cannot be updated in less
 * than its length, but no child in it is looked up or rebuilt.
 * A snapshot of n records costs O(n + references).
 */

import { childKeys, jsonEqual, recordKey, splitKey } from "./model.js";
import type { ChannelModel, FlatRecord, RefSpec } from "./model.js";

/** Counters for tests and benchmarks (they only grow). */
export interface GraphStats {
  /** New nested record objects handed out. */
  recordsBuilt: number;
  /** New arrays (list references) handed out. */
  arraysBuilt: number;
  /** `recordsBuilt + arraysBuilt`. */
  objectsBuilt: number;
  /** Flat record writes that changed something. */
  recordsWritten: number;
}

export interface RecordGraphOptions {
  /** Object.freeze every object handed out (development aid: mutation attempts then throw). */
  readonly freeze?: boolean;
}

type Node = Readonly<Record<string, unknown>>;
const CUT: unique symbol = Symbol("cut");
type Visit = Node | null | typeof CUT;

export class RecordGraph {
  readonly stats: GraphStats = { recordsBuilt: 0, arraysBuilt: 0, objectsBuilt: 0, recordsWritten: 0 };
  /** Grows with every write that changed a record, and with every change of root(s). */
  revision = 0;

  private readonly records = new Map<string, FlatRecord>();
  /** child key -> keys of present records referencing it (the child itself may be absent). */
  private readonly parents = new Map<string, Set<string>>();
  /** key -> nested node last handed out for it. */
  private readonly built = new Map<string, Node>();
  /** Keys whose node must be rebuilt: the record or a descendant changed. Closed under "parent of". */
  private readonly dirty = new Set<string>();
  /** Keys whose own flat record changed since the last build. */
  private readonly changed = new Set<string>();
  /** parent key -> child type -> ids of dirty children (which list positions to patch). */
  private readonly dirtyChildren = new Map<string, Map<string, Set<string>>>();
  /** Keys whose last build cut a cyclic reference. */
  private cutNodes = new Set<string>();
  /** Keys on the current build path (cycle detection). */
  private readonly building = new Set<string>();
  private rootKey: string | null = null;
  /** List mode: the keys of the roots, in order (see `setRoots`). */
  private rootKeys: readonly string[] | null = null;
  private root: Node | readonly Node[] | null = null;
  private rootValid = false;
  private readonly freeze: boolean;

  constructor(
    private readonly model: ChannelModel,
    options: RecordGraphOptions = {},
  ) {
    this.freeze = options.freeze ?? false;
  }

  /** Number of records held. */
  get size(): number {
    return this.records.size;
  }

  get(key: string): FlatRecord | undefined {
    return this.records.get(key);
  }

  has(key: string): boolean {
    return this.records.has(key);
  }

  keys(): IterableIterator<string> {
    return this.records.keys();
  }

  /** Keys of present records that reference `key`. */
  parentsOf(key: string): ReadonlySet<string> {
    return this.parents.get(key) ?? EMPTY;
  }

  /** The key of the record whose nested view `build()` returns. */
  get currentRoot(): string | null {
    return this.rootKey;
  }

  /** True when the next `build()` has work to do (the nested view changed or may have). */
  get pendingChanges(): boolean {
    return !this.rootValid || this.dirty.size > 0;
  }

  setRoot(key: string | null): void {
    if (key === this.rootKey) return;
    this.rootKey = key;
    this.rootValid = false;
    this.revision++;
  }

  /** The keys of the roots of a list (`build()` then returns an array), or null before there is one. */
  get currentRoots(): readonly string[] | null {
    return this.rootKeys;
  }

  /**
   * List mode: `build()` returns the nested views of these records, in this order, leaving out the ones
   * absent. Null: no list yet (`build()` returns null).
   */
  setRoots(keys: readonly string[] | null): void {
    const current = this.rootKeys;
    if (keys === current || (keys !== null && current !== null && shallowEqualArrays(keys, current))) return;
    this.rootKeys = keys;
    this.rootValid = false;
    this.revision++;
  }

  /**
   * Writes many records into an empty graph at once, without dirty tracking (there is nothing built to
   * invalidate): the next `build()` builds every node once. Falls back to `set` when the graph is not empty.
   */
  load(records: ReadonlyMap<string, FlatRecord>): void {
    if (this.records.size > 0 || this.built.size > 0 || this.dirty.size > 0) {
      for (const [key, record] of records) this.set(key, record);
      return;
    }
    for (const [key, record] of records) {
      this.records.set(key, record);
      this.relink(key, undefined, record);
    }
    this.stats.recordsWritten += records.size;
    this.revision++;
    this.rootValid = false;
  }

  /**
   * Writes (or, with `undefined`, removes) one record. Returns false when nothing changed: an equal record
   * (deep comparison of field values) or the removal of an absent one is a no-op. Field values equal to the
   * previous ones are kept by identity, so unchanged JSON fields keep their objects.
   */
  set(key: string, next: FlatRecord | undefined): boolean {
    const prev = this.records.get(key);
    if (next === undefined) {
      if (prev === undefined) return false;
      this.records.delete(key);
      this.relink(key, prev, undefined);
    } else {
      let merged: FlatRecord = next;
      if (prev !== undefined) {
        const shared = shareEqualFields(prev, next);
        if (shared === prev) return false;
        merged = shared;
      }
      this.records.set(key, merged);
      this.relink(key, prev, merged);
    }
    this.stats.recordsWritten++;
    this.revision++;
    this.changed.add(key);
    this.markDirty(key);
    return true;
  }

  /** Removes every record (the nested view becomes null until records arrive again). */
  clear(): void {
    for (const key of [...this.records.keys()]) this.set(key, undefined);
  }

  /**
   * The nested view of the root record, rebuilt where needed; the same object as last time when nothing
   * changed. Null without a root, or when the root record is absent. In list mode, the array of the
   * roots' views (the same array as last time when none of them changed).
   */
  build(): unknown {
    if (this.rootValid && this.dirty.size === 0) return this.root;
    for (const key of this.cutNodes) this.markDirty(key);
    this.cutNodes = new Set();
    let result: Visit | readonly Node[];
    if (this.rootKeys !== null) result = this.visitRoots(this.rootKeys);
    else result = this.rootKey === null ? null : this.visit(this.rootKey);
    // Dirty nodes the root does not reach: drop their cached view, it is stale.
    for (const key of this.dirty) this.built.delete(key);
    this.dirty.clear();
    this.changed.clear();
    this.dirtyChildren.clear();
    this.root = result === CUT ? null : result;
    this.rootValid = true;
    return this.root;
  }

  // -- writes ------------------------------------------------------------------------------------------

  private relink(key: string, prev: FlatRecord | undefined, next: FlatRecord | undefined): void {
    if (prev !== undefined && next !== undefined && !this.refsDiffer(prev, next)) return;
    const before = prev === undefined ? EMPTY : childKeys(this.model, prev);
    const after = next === undefined ? EMPTY : childKeys(this.model, next);
    for (const child of before) {
      if (after.has(child)) continue;
      const set = this.parents.get(child);
      if (set === undefined) continue;
      set.delete(key);
      if (set.size === 0) this.parents.delete(child);
    }
    for (const child of after) {
      if (before.has(child)) continue;
      let set = this.parents.get(child);
      if (set === undefined) this.parents.set(child, (set = new Set()));
      set.add(key);
    }
  }

  private refsDiffer(prev: FlatRecord, next: FlatRecord): boolean {
    if (prev.__typename !== next.__typename) return true;
    const spec = this.model.types[next.__typename];
    if (spec === undefined) return false;
    for (const field in spec.refs) if (prev[field] !== next[field]) return true;
    return false;
  }

  /** Marks `start` and, through the reverse index, every ancestor dirty; records which child made each parent dirty. */
  private markDirty(start: string): void {
    if (this.dirty.has(start)) return;
    this.dirty.add(start);
    const stack = [start];
    for (let key = stack.pop(); key !== undefined; key = stack.pop()) {
      const parents = this.parents.get(key);
      if (parents === undefined) continue;
      let ref: { type: string; id: string } | undefined;
      for (const parent of parents) {
        if (this.dirty.has(parent) && this.changed.has(parent)) continue; // rebuilt from its ids anyway
        ref ??= splitKey(key);
        const { type, id } = ref;
        let byType = this.dirtyChildren.get(parent);
        if (byType === undefined) this.dirtyChildren.set(parent, (byType = new Map()));
        let ids = byType.get(type);
        if (ids === undefined) byType.set(type, (ids = new Set()));
        ids.add(id);
        if (!this.dirty.has(parent)) {
          this.dirty.add(parent);
          stack.push(parent);
        }
      }
    }
  }

  // -- nested build ------------------------------------------------------------------------------------

  private visitRoots(keys: readonly string[]): readonly Node[] {
    const out: Node[] = [];
    for (const key of keys) {
      const node = this.visit(key);
      if (node !== null && node !== CUT) out.push(node);
    }
    if (Array.isArray(this.root) && shallowEqualArrays(this.root, out)) return this.root;
    this.stats.arraysBuilt++;
    this.stats.objectsBuilt++;
    return this.freeze ? Object.freeze(out) : out;
  }

  private visit(key: string): Visit {
    if (this.building.has(key)) return CUT;
    const record = this.records.get(key);
    if (record === undefined) {
      this.built.delete(key);
      this.dirty.delete(key);
      return null;
    }
    const prev = this.built.get(key);
    if (prev !== undefined && !this.dirty.has(key)) return prev;
    this.building.add(key);
    let node: Node;
    try {
      node = this.buildNode(key, record, prev);
    } finally {
      this.building.delete(key);
    }
    this.dirty.delete(key);
    this.built.set(key, node);
    return node;
  }

  private buildNode(key: string, record: FlatRecord, prev: Node | undefined): Node {
    const refs = this.model.types[record.__typename]?.refs;
    const selfChanged = this.changed.has(key);
    const dirtyKids = this.dirtyChildren.get(key);
    const out: Record<string, unknown> = {};
    let same = prev !== undefined;
    let count = 0;
    let cut = false;
    for (const field in record) {
      count++;
      const value = record[field];
      const ref: RefSpec | undefined = refs?.[field];
      let rendered: unknown;
      if (ref === undefined) {
        rendered = this.freeze && typeof value === "object" && value !== null ? deepFreeze(value) : value;
      } else if (!ref.many) {
        const child = value == null ? null : this.visit(recordKey(ref.type, String(value)));
        if (child === CUT) cut = true;
        rendered = child === CUT ? null : child;
      } else {
        const list = this.buildList(
          Array.isArray(value) ? (value as readonly unknown[]) : EMPTY_LIST,
          ref.type,
          prev?.[field],
          selfChanged ? undefined : dirtyKids?.get(ref.type) ?? EMPTY,
        );
        if (list.cut) cut = true;
        rendered = list.value;
      }
      out[field] = rendered;
      if (same && (prev as Node)[field] !== rendered) same = false;
    }
    if (cut) this.cutNodes.add(key);
    if (same && prev !== undefined && Object.keys(prev).length === count) return prev;
    this.stats.recordsBuilt++;
    this.stats.objectsBuilt++;
    return this.freeze ? Object.freeze(out) : out;
  }

  /**
   * A list reference. When the parent record itself did not change (`dirtyIds` given: the ids of this
   * list's type whose nodes are dirty), the previous array is reused, or copied and patched at the dirty
   * children's positions. Otherwise the list is rebuilt from the ids, reusing every clean child, and the
   * previous array is kept if the result is element-wise identical.
   */
  private buildList(
    ids: readonly unknown[],
    type: string,
    prev: unknown,
    dirtyIds: ReadonlySet<string> | undefined,
  ): { value: readonly unknown[]; cut: boolean } {
    if (dirtyIds !== undefined && Array.isArray(prev) && prev.length === ids.length) {
      if (dirtyIds.size === 0) return { value: prev, cut: false };
      const patched = this.patchList(ids, type, prev as readonly Node[], dirtyIds);
      if (patched !== undefined) return { value: patched, cut: false };
    }
    const out: Node[] = [];
    let cut = false;
    for (const id of ids) {
      if (id == null) continue;
      const child = this.visit(recordKey(type, String(id)));
      if (child === CUT) cut = true;
      else if (child !== null) out.push(child);
    }
    if (Array.isArray(prev) && shallowEqualArrays(prev, out)) return { value: prev, cut };
    this.stats.arraysBuilt++;
    this.stats.objectsBuilt++;
    return { value: this.freeze ? Object.freeze(out) : out, cut };
  }

  /** Undefined when a dirty child vanished (missing or cut): the caller rebuilds the whole list. */
  private patchList(
    ids: readonly unknown[],
    type: string,
    prev: readonly Node[],
    dirtyIds: ReadonlySet<string>,
  ): readonly Node[] | undefined {
    let out: Node[] | undefined;
    const index = ids.length > SCAN_LIMIT ? positionsOf(ids) : undefined;
    // Visit the dirty children in list order, as a build from scratch would (see the module doc on cycles).
    const order: { readonly first: number; readonly id: string; readonly positions: readonly number[] }[] = [];
    for (const id of dirtyIds) {
      const positions = index !== undefined ? index.get(id) : scan(ids, id);
      if (positions === undefined || positions.length === 0) continue;
      order.push({ first: positions[0] ?? 0, id, positions });
    }
    if (order.length > 1) order.sort((a, b) => a.first - b.first);
    for (const { id, positions } of order) {
      const child = this.visit(recordKey(type, id));
      if (child === null || child === CUT) return undefined;
      for (const at of positions) {
        if (child !== (out ?? prev)[at]) {
          if (out === undefined) out = prev.slice();
          out[at] = child;
        }
      }
    }
    if (out === undefined) return prev;
    this.stats.arraysBuilt++;
    this.stats.objectsBuilt++;
    return this.freeze ? Object.freeze(out) : out;
  }
}

const EMPTY: ReadonlySet<string> = new Set<string>();
const EMPTY_LIST: readonly unknown[] = [];

/** Up to this length a list is scanned for a changed child; longer lists get a position index. */
const SCAN_LIMIT = 64;
/** Positions of each id in a list of ids, built once per ids array (an unchanged record keeps its array). */
const positionIndexes = new WeakMap<readonly unknown[], Map<string, number[]>>();

function positionsOf(ids: readonly unknown[]): Map<string, number[]> {
  let index = positionIndexes.get(ids);
  if (index === undefined) {
    index = new Map();
    for (let at = 0; at < ids.length; at++) {
      const id = ids[at];
      if (id == null) continue;
      const key = String(id);
      const positions = index.get(key);
      if (positions === undefined) index.set(key, [at]);
      else positions.push(at);
    }
    positionIndexes.set(ids, index);
  }
  return index;
}

function scan(ids: readonly unknown[], id: string): number[] {
  const positions: number[] = [];
  for (let at = 0; at < ids.length; at++) if (ids[at] != null && String(ids[at]) === id) positions.push(at);
  return positions;
}

/** Freezes a JSON value and everything in it (skipping what is frozen already). */
function deepFreeze<T>(value: T): T {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value;
  for (const inner of Object.values(value)) deepFreeze(inner);
  return Object.freeze(value);
}

function shallowEqualArrays(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * `next`, with every field value that is equal to the one in `prev` replaced by `prev`'s (same identity);
 * `prev` itself when all fields are equal.
 */
function shareEqualFields(prev: FlatRecord, next: FlatRecord): FlatRecord {
  const out: Record<string, unknown> = {};
  let same = true;
  let count = 0;
  for (const field in next) {
    count++;
    const a = prev[field];
    const b = next[field];
    if (a === b || (Object.prototype.hasOwnProperty.call(prev, field) && jsonEqual(a, b))) {
      out[field] = a;
    } else {
      out[field] = b;
      same = false;
    }
  }
  if (same && count === Object.keys(prev).length) return prev;
  return out as FlatRecord;
}
