/**
 * The normalized record graph and its incremental nested view.
 *
 * Records are kept flat, keyed `type:id`, with a reverse index child -> parents. Each key has one entry
 * (server record, visible record, last node built, parents, dirty flags), so a write or a rebuild probes
 * the state-sized map once per record it touches, and walks to the parents without probing it. Writing a record marks it
 * and its ancestors dirty (walking the reverse index, stopping at nodes already dirty); reading the nested
 * view rebuilds, from the root, only dirty nodes and reuses every clean cached subtree. A rebuilt node that
 * turns out shallowly equal to its previous version keeps the previous object, so identity changes exactly
 * where content changed. Objects handed out are never mutated (new ones are built instead).
 *
 * Rendering rules:
 * - a single reference that is null, or points to a record not present (yet), renders as `null`;
 *   a list entry pointing to a missing record is left out. When the record arrives the parents are rebuilt.
 * - one record is one object, however many places reference it (shared children).
 * - every empty list is the same frozen array.
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
 * A snapshot of n records costs O(n + references): one entry and one node per record, one array per
 * non-empty list, and parent links appended to arrays (a hash set only for a long parent list that loses
 * a member, built then).
 */

import { childKeys, jsonEqual, recordKey, splitKey } from "./model.js";
import type { ChannelModel, FlatRecord, RecordRef, RefSpec } from "./model.js";

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

/**
 * Everything the graph knows about one key, in one object: a write or a rebuild looks the key up once
 * and then follows references (the parent links point at entries, not keys), instead of probing a map
 * per aspect. An entry exists while its record is present or something references its key.
 */
class Entry {
  /** The visible record (the server's with optimistic layers applied). */
  record: FlatRecord | undefined = undefined;
  /** The record as the server last sent it. */
  server: FlatRecord | undefined = undefined;
  /** The nested node last handed out for it. */
  node: Node | undefined = undefined;
  /**
   * Present records referencing this key: none, one (the common case), or several, each once. Several
   * are an array, appended to as records arrive; a long one becomes a Set when a parent is removed from
   * it (a child shared by the whole state, like a user, gets its hash index only if it ever loses one).
   */
  parents: Entry | Entry[] | Set<Entry> | undefined = undefined;
  /** The node must be rebuilt: the record or a descendant changed. Closed under "parent of". */
  dirty = false;
  /** The flat record itself changed since the last build. */
  changed = false;
  /** On the current build path (cycle detection). */
  building = false;
  /** Child type -> ids of dirty children (which list positions to patch). */
  dirtyKids: Map<string, Set<string>> | undefined = undefined;

  constructor(readonly key: string) {}
}

export class RecordGraph {
  readonly stats: GraphStats = { recordsBuilt: 0, arraysBuilt: 0, objectsBuilt: 0, recordsWritten: 0 };
  /** Grows with every write that changed a record, and with every change of root(s). */
  revision = 0;

  private readonly entries = new Map<string, Entry>();
  /** Number of entries holding a visible record, and a server record. */
  private present = 0;
  private serverCount = 0;
  /** Entries marked dirty since the last build (their flags are reset by the build). */
  private dirtyList: Entry[] = [];
  /** Entries whose last build cut a cyclic reference. */
  private cutNodes: Entry[] = [];
  private rootKey: string | null = null;
  /** List mode: the keys of the roots, in order (see `setRoots`). */
  private rootKeys: readonly string[] | null = null;
  private root: Node | readonly Node[] | null = null;
  private rootValid = false;
  /** Whether the last `buildList` cut a cyclic reference (saves returning a pair per list). */
  private listCut = false;
  private readonly freeze: boolean;

  constructor(
    private readonly model: ChannelModel,
    options: RecordGraphOptions = {},
  ) {
    this.freeze = options.freeze ?? false;
  }

  /** Number of records held. */
  get size(): number {
    return this.present;
  }

  get(key: string): FlatRecord | undefined {
    return this.entries.get(key)?.record;
  }

  has(key: string): boolean {
    return this.entries.get(key)?.record !== undefined;
  }

  *keys(): IterableIterator<string> {
    for (const [key, entry] of this.entries) if (entry.record !== undefined) yield key;
  }

  /** Number of server records held. */
  get serverSize(): number {
    return this.serverCount;
  }

  /** The record as the server last sent it (the base optimistic layers apply over). */
  getServer(key: string): FlatRecord | undefined {
    return this.entries.get(key)?.server;
  }

  /**
   * Keeps (or, with `undefined`, forgets) the server's version of a record; the visible record is written
   * by `set`. Returns whether a server record was held before.
   */
  setServer(key: string, record: FlatRecord | undefined): boolean {
    let entry = this.entries.get(key);
    const held = entry?.server !== undefined;
    if (record === undefined) {
      if (entry === undefined || !held) return false;
      entry.server = undefined;
      this.serverCount--;
      this.release(entry);
      return true;
    }
    entry ??= this.entry(key);
    if (!held) this.serverCount++;
    entry.server = record;
    return held;
  }

  /** The keys of the server records, in the order their entries were created. */
  *serverKeys(): IterableIterator<string> {
    for (const [key, entry] of this.entries) if (entry.server !== undefined) yield key;
  }

  /** The server records, in the order their entries were created. */
  *serverRecords(): IterableIterator<FlatRecord> {
    for (const entry of this.entries.values()) if (entry.server !== undefined) yield entry.server;
  }

  /** Keys of present records that reference `key`. */
  parentsOf(key: string): ReadonlySet<string> {
    const parents = this.entries.get(key)?.parents;
    if (parents === undefined) return EMPTY;
    if (parents instanceof Entry) return new Set([parents.key]);
    return new Set(Array.from(parents, (parent: Entry) => parent.key));
  }

  /** The key of the record whose nested view `build()` returns. */
  get currentRoot(): string | null {
    return this.rootKey;
  }

  /** True when the next `build()` has work to do (the nested view changed or may have). */
  get pendingChanges(): boolean {
    return !this.rootValid || this.dirtyList.length > 0;
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
   * Writes a snapshot into an empty graph, as both the server and the visible records (there is no
   * optimistic layer yet): `keys[i]` gets `values[i]`, null removes, a later write of a key wins. Without
   * dirty tracking, since nothing built can be stale: the next `build()` builds every node once. Falls
   * back to `setServer` and `set` when the graph is not empty.
   */
  load(keys: readonly string[], values: readonly (FlatRecord | null)[]): void {
    if (this.entries.size > 0 || this.dirtyList.length > 0) {
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const record = values[i] ?? undefined;
        this.setServer(key, record);
        this.set(key, record);
      }
      return;
    }
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const record = values[i] ?? null;
      const entry = record === null ? this.entries.get(key) : this.entry(key);
      if (entry === undefined) continue;
      const prev = entry.record;
      if (prev === undefined) {
        if (record === null) continue;
        this.present++;
        this.serverCount++;
        this.linkAll(entry, record);
      } else {
        this.relink(entry, prev, record ?? undefined);
        if (record === null) {
          this.present--;
          this.serverCount--;
        }
      }
      entry.record = entry.server = record ?? undefined;
      this.release(entry);
    }
    this.stats.recordsWritten += this.present;
    this.revision++;
    this.rootValid = false;
  }

  /**
   * Writes (or, with `undefined`, removes) one record. Returns false when nothing changed: an equal record
   * (deep comparison of field values) or the removal of an absent one is a no-op. Field values equal to the
   * previous ones are kept by identity, so unchanged JSON fields keep their objects.
   */
  set(key: string, next: FlatRecord | undefined): boolean {
    let entry = this.entries.get(key);
    const prev = entry?.record;
    if (next === undefined) {
      if (entry === undefined || prev === undefined) return false;
      entry.record = undefined;
      this.present--;
      this.relink(entry, prev, undefined);
    } else {
      let merged: FlatRecord = next;
      if (prev !== undefined) {
        const shared = shareEqualFields(prev, next);
        if (shared === prev) return false;
        merged = shared;
      } else {
        this.present++;
      }
      entry ??= this.entry(key);
      entry.record = merged;
      this.relink(entry, prev, merged);
    }
    this.stats.recordsWritten++;
    this.revision++;
    entry.changed = true;
    this.markDirty(entry);
    this.release(entry);
    return true;
  }

  /** Removes every record (the nested view becomes null until records arrive again). */
  clear(): void {
    for (const key of [...this.keys()]) this.set(key, undefined);
  }

  /**
   * The nested view of the root record, rebuilt where needed; the same object as last time when nothing
   * changed. Null without a root, or when the root record is absent. In list mode, the array of the
   * roots' views (the same array as last time when none of them changed).
   */
  build(): unknown {
    if (this.rootValid && this.dirtyList.length === 0) return this.root;
    const cuts = this.cutNodes;
    this.cutNodes = [];
    for (const entry of cuts) this.markDirty(entry);
    let result: Visit | readonly Node[];
    if (this.rootKeys !== null) result = this.visitRoots(this.rootKeys);
    else result = this.rootKey === null ? null : this.visit(this.rootKey);
    const dirty = this.dirtyList;
    this.dirtyList = [];
    for (const entry of dirty) {
      // Dirty nodes the root does not reach: drop their cached view, it is stale.
      if (entry.dirty) entry.node = undefined;
      entry.dirty = false;
      entry.changed = false;
      entry.dirtyKids = undefined;
    }
    this.root = result === CUT ? null : result;
    this.rootValid = true;
    return this.root;
  }

  // -- writes ------------------------------------------------------------------------------------------

  /** The entry of `key`, created when absent. */
  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (entry === undefined) this.entries.set(key, (entry = new Entry(key)));
    return entry;
  }

  /** Forgets an entry that holds no record and that nothing references. */
  private release(entry: Entry): void {
    if (entry.record === undefined && entry.server === undefined && entry.parents === undefined) {
      this.entries.delete(entry.key);
    }
  }

  /** Links a record that had no links yet to every child it references. */
  private linkAll(entry: Entry, record: FlatRecord): void {
    const refs = this.model.types[record.__typename]?.refs;
    if (refs === undefined) return;
    for (const field in refs) {
      const ref = refs[field] as RefSpec;
      const value = record[field];
      if (ref.many) {
        if (Array.isArray(value)) {
          for (const id of value) if (id != null) addParent(this.entry(recordKey(ref.type, String(id))), entry);
        }
      } else if (value != null) {
        addParent(this.entry(recordKey(ref.type, String(value))), entry);
      }
    }
  }

  private relink(entry: Entry, prev: FlatRecord | undefined, next: FlatRecord | undefined): void {
    if (prev === undefined) {
      if (next !== undefined) this.linkAll(entry, next);
      return;
    }
    if (next !== undefined && !this.refsDiffer(prev, next)) return;
    const before = childKeys(this.model, prev);
    const after = next === undefined ? EMPTY : childKeys(this.model, next);
    for (const child of before) {
      if (after.has(child)) continue;
      const target = this.entries.get(child);
      if (target === undefined) continue;
      removeParent(target, entry);
      this.release(target);
    }
    for (const child of after) {
      if (!before.has(child)) addParent(this.entry(child), entry);
    }
  }

  private refsDiffer(prev: FlatRecord, next: FlatRecord): boolean {
    if (prev.__typename !== next.__typename) return true;
    const spec = this.model.types[next.__typename];
    if (spec === undefined) return false;
    for (const field in spec.refs) if (prev[field] !== next[field]) return true;
    return false;
  }

  private markOne(entry: Entry): void {
    entry.dirty = true;
    this.dirtyList.push(entry);
  }

  /** Marks `start` and, through the parent links, every ancestor dirty; records which child made each parent dirty. */
  private markDirty(start: Entry): void {
    if (start.dirty) return;
    this.markOne(start);
    const stack = [start];
    for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
      const parents = entry.parents;
      if (parents === undefined) continue;
      const ref = splitKey(entry.key);
      if (parents instanceof Entry) {
        if (this.noteDirtyChild(parents, ref)) stack.push(parents);
      } else {
        for (const parent of parents) if (this.noteDirtyChild(parent, ref)) stack.push(parent);
      }
    }
  }

  /** Records that `child` is dirty under `parent`; true when `parent` was newly marked dirty. */
  private noteDirtyChild(parent: Entry, child: RecordRef): boolean {
    if (parent.dirty && parent.changed) return false; // rebuilt from its ids anyway
    let byType = parent.dirtyKids;
    if (byType === undefined) parent.dirtyKids = byType = new Map();
    let ids = byType.get(child.type);
    if (ids === undefined) byType.set(child.type, (ids = new Set()));
    ids.add(child.id);
    if (parent.dirty) return false;
    this.markOne(parent);
    return true;
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
    const entry = this.entries.get(key);
    if (entry === undefined) return null;
    if (entry.building) return CUT;
    const record = entry.record;
    if (record === undefined) {
      entry.node = undefined;
      entry.dirty = false;
      return null;
    }
    const prev = entry.node;
    if (prev !== undefined && !entry.dirty) return prev;
    entry.building = true;
    let node: Node;
    try {
      node = this.buildNode(entry, record, prev);
    } finally {
      entry.building = false;
    }
    entry.dirty = false;
    entry.node = node;
    return node;
  }

  /**
   * The node is a copy of the record (one object clone, which keeps the record's shape, instead of a
   * property store per field) with its reference fields replaced by the children's nodes.
   */
  private buildNode(entry: Entry, record: FlatRecord, prev: Node | undefined): Node {
    const refs = this.model.types[record.__typename]?.refs;
    const selfChanged = entry.changed;
    const dirtyKids = entry.dirtyKids;
    const out: Record<string, unknown> = { ...record };
    // When the record did not change, its plain fields are the ones `prev` was built from.
    let same = prev !== undefined;
    let count = 0;
    let cut = false;
    for (const field in record) {
      count++;
      const ref: RefSpec | undefined = refs?.[field];
      if (ref === undefined) {
        const value = record[field];
        if (this.freeze && typeof value === "object" && value !== null) deepFreeze(value);
        if (same && selfChanged && (prev as Node)[field] !== value) same = false;
        continue;
      }
      const value = record[field];
      let rendered: unknown;
      if (!ref.many) {
        const child = value == null ? null : this.visit(recordKey(ref.type, String(value)));
        if (child === CUT) cut = true;
        rendered = child === CUT ? null : child;
      } else {
        rendered = this.buildList(
          Array.isArray(value) ? (value as readonly unknown[]) : EMPTY_LIST,
          ref.type,
          prev?.[field],
          selfChanged ? undefined : dirtyKids?.get(ref.type) ?? EMPTY,
        );
        if (this.listCut) cut = true;
      }
      out[field] = rendered;
      if (same && (prev as Node)[field] !== rendered) same = false;
    }
    if (cut) this.cutNodes.push(entry);
    if (same && prev !== undefined && (!selfChanged || Object.keys(prev).length === count)) return prev;
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
  ): readonly unknown[] {
    this.listCut = false;
    if (dirtyIds !== undefined && Array.isArray(prev) && prev.length === ids.length) {
      if (dirtyIds.size === 0) return prev;
      const patched = this.patchList(ids, type, prev as readonly Node[], dirtyIds);
      if (patched !== undefined) {
        this.listCut = false; // a patched list cut nothing (the visits may have set it for inner lists)
        return patched;
      }
    }
    if (ids.length === 0) return Array.isArray(prev) && prev.length === 0 ? prev : EMPTY_NODES;
    const out: Node[] = [];
    let cut = false;
    for (const id of ids) {
      if (id == null) continue;
      const child = this.visit(recordKey(type, String(id)));
      if (child === CUT) cut = true;
      else if (child !== null) out.push(child);
    }
    // read by the caller right after the return (the visits above may have set it for inner lists)
    this.listCut = cut;
    if (Array.isArray(prev) && shallowEqualArrays(prev, out)) return prev;
    this.stats.arraysBuilt++;
    this.stats.objectsBuilt++;
    return this.freeze ? Object.freeze(out) : out;
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
/** Every empty list reference renders as this one array (frozen: it is shared by every node). */
const EMPTY_NODES: readonly Node[] = Object.freeze([]);

/**
 * Adds `parent` to the parents of `child`, which it must not be among already, except as the last one
 * added (a record listing the same child twice links it twice in a row).
 */
function addParent(child: Entry, parent: Entry): void {
  const parents = child.parents;
  if (parents === undefined) child.parents = parent;
  else if (parents instanceof Entry) {
    if (parents !== parent) child.parents = [parents, parent];
  } else if (Array.isArray(parents)) {
    if (parents[parents.length - 1] !== parent) parents.push(parent);
  } else parents.add(parent);
}

/** Up to this many parents an array is searched; a longer one is turned into a Set to remove from it. */
const PARENT_SCAN_LIMIT = 32;

function removeParent(child: Entry, parent: Entry): void {
  let parents = child.parents;
  if (parents === parent) {
    child.parents = undefined;
    return;
  }
  if (Array.isArray(parents)) {
    if (parents.length <= PARENT_SCAN_LIMIT) {
      const at = parents.indexOf(parent);
      if (at < 0) return;
      const last = parents.pop() as Entry;
      if (at < parents.length) parents[at] = last;
      if (parents.length === 1) child.parents = parents[0];
      return;
    }
    child.parents = parents = new Set(parents);
  }
  if (parents instanceof Set) {
    parents.delete(parent);
    if (parents.size === 0) child.parents = undefined;
  }
}

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
