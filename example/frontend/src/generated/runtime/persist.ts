/**
 * A persistent cache for stores: a reloaded page renders the last state at once, then resumes the stream
 * with `since` instead of receiving a full snapshot.
 *
 * What is kept is a store's server state (records, cursor, a list channel's anchor order), never its
 * optimistic writes, as one entry per store written after changes (coalesced, `saveDelayMs`): the records and the
 * cursor of an entry always belong together. Each entry is stamped with the channel model's `version` (a
 * hash of the channel's subscription document, so of every field of every layer, generated with the model):
 * after a schema change an entry of another version is discarded, never rendered.
 *
 * Adapters: `IndexedDBCache` in browsers, `MemoryCache` for tests and for runtimes without storage. A key
 * names one store: the generated hooks use the channel field and its arguments; add a `scope` (e.g. the
 * signed-in user's id) so that two users of one browser never read each other's state.
 */

import type { ChannelModel } from "./model.js";
import { feedOf } from "./store.js";
import type { ChannelStore, StoredState } from "./store.js";

/** One persisted store. */
export interface CacheEntry {
  readonly version: string;
  readonly state: StoredState;
}

/** Where entries live. */
export interface PersistentCache {
  read(key: string): Promise<CacheEntry | undefined>;
  write(key: string, entry: CacheEntry): Promise<void>;
  remove(key: string): Promise<void>;
}

/** Entries in memory (tests, or where no storage is available); `entries` shows what was written. */
export class MemoryCache implements PersistentCache {
  readonly entries = new Map<string, CacheEntry>();

  read(key: string): Promise<CacheEntry | undefined> {
    return Promise.resolve(this.entries.get(key));
  }

  write(key: string, entry: CacheEntry): Promise<void> {
    this.entries.set(key, structuredClone(entry));
    return Promise.resolve();
  }

  remove(key: string): Promise<void> {
    this.entries.delete(key);
    return Promise.resolve();
  }
}

interface IDBLike {
  open(name: string, version?: number): IDBOpenDBRequest;
}

/** Entries in an IndexedDB database (one object store, `entries`, keyed by the store key). */
export class IndexedDBCache implements PersistentCache {
  private db: Promise<IDBDatabase> | null = null;

  constructor(
    readonly databaseName = "rxgraphql",
    private readonly factory: IDBLike | undefined = (globalThis as { indexedDB?: IDBLike }).indexedDB,
  ) {}

  async read(key: string): Promise<CacheEntry | undefined> {
    const found = await this.run<unknown>("readonly", (entries) => entries.get(key));
    return found === undefined ? undefined : (found as CacheEntry);
  }

  async write(key: string, entry: CacheEntry): Promise<void> {
    await this.run("readwrite", (entries) => entries.put(entry, key));
  }

  async remove(key: string): Promise<void> {
    await this.run("readwrite", (entries) => entries.delete(key));
  }

  private open(): Promise<IDBDatabase> {
    const factory = this.factory;
    if (factory === undefined) return Promise.reject(new Error("IndexedDB is not available"));
    this.db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const request = factory.open(this.databaseName, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("entries");
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error("IndexedDB open failed"));
    });
    return this.db;
  }

  private async run<T>(mode: IDBTransactionMode, action: (entries: IDBObjectStore) => IDBRequest): Promise<T> {
    const db = await this.open();
    return new Promise<T>((resolve, reject) => {
      const transaction = db.transaction("entries", mode);
      const request = action(transaction.objectStore("entries"));
      transaction.oncomplete = () => resolve(request.result as T);
      transaction.onerror = () => reject(transaction.error ?? new Error("IndexedDB transaction failed"));
      transaction.onabort = () => reject(transaction.error ?? new Error("IndexedDB transaction aborted"));
    });
  }
}

export interface PersistOptions {
  readonly cache: PersistentCache;
  /** The store's key in the cache (see the module doc). */
  readonly key: string;
  /** Entries of another version are discarded (default: the model's `version`, else ""). */
  readonly version?: string;
  /**
   * At most one write per this many ms (default 200): an entry holds every record, so a busy stream is
   * not written at every event. The first change after a quiet period is written at once.
   */
  readonly saveDelayMs?: number;
}

/** Returned by `persistStore`. */
export interface Persistence {
  /** Resolves once the cached state is in the store (true), or there was none to use (false). */
  readonly restored: Promise<boolean>;
  /** Resolves when every write made so far is in the cache. */
  flushed(): Promise<void>;
  /** Saves the current state one last time and stops saving. */
  stop(): void;
}

const restoring = new WeakMap<ChannelStore<unknown>, Promise<boolean>>();

/** The restore in progress for a store, if any (the transport-facing code waits for it before subscribing). */
export function restoreOf<S>(store: ChannelStore<S>): Promise<boolean> | undefined {
  return restoring.get(store as ChannelStore<unknown>);
}

/** The version of a model's persisted state. */
export function modelVersion(model: ChannelModel): string {
  return model.version ?? "";
}

/**
 * Loads the cached state of `store` (when it is of the same version and the store is still empty), then
 * saves its server state after every change until `stop()`.
 */
export function persistStore<S>(store: ChannelStore<S>, options: PersistOptions): Persistence {
  const { cache, key } = options;
  const version = options.version ?? modelVersion(store.model);
  const feed = feedOf(store);
  let stopped = false;
  let lastSaved = "";
  let scheduled: ReturnType<typeof setTimeout> | undefined;
  let writing: Promise<void> = Promise.resolve();
  const delay = options.saveDelayMs ?? 200;

  const save = (): void => {
    if (scheduled !== undefined) clearTimeout(scheduled);
    scheduled = undefined;
    if (stopped) return;
    const state = feed.stored();
    if (state === null || state.cursor === lastSaved) return;
    lastSaved = state.cursor;
    writing = writing.then(() => cache.write(key, { version, state })).catch(() => {});
  };

  const restored = (async (): Promise<boolean> => {
    let entry: CacheEntry | undefined;
    try {
      entry = await cache.read(key);
    } catch {
      return false;
    }
    if (entry === undefined) return false;
    if (entry.version !== version) {
      await cache.remove(key).catch(() => {});
      return false;
    }
    if (stopped) return false;
    const applied = feed.restore(entry.state);
    if (applied) lastSaved = entry.state.cursor;
    return applied;
  })();
  restoring.set(store as ChannelStore<unknown>, restored);

  let lastWrite = Number.NEGATIVE_INFINITY;
  const unsubscribe = store.subscribe(() => {
    if (scheduled !== undefined || stopped) return;
    // leading edge: the first change after a quiet period is saved at once (a page may be closed any
    // moment); changes coming faster are saved together once `saveDelayMs` has passed
    const wait = lastWrite + delay - Date.now();
    scheduled = setTimeout(() => {
      lastWrite = Date.now();
      save();
    }, Math.max(0, wait));
  });
  void restored.then(() => {
    if (restoring.get(store as ChannelStore<unknown>) === restored) restoring.delete(store as ChannelStore<unknown>);
  });
  return {
    restored,
    flushed: () => writing,
    stop: () => {
      if (stopped) return;
      save();
      stopped = true;
      unsubscribe();
    },
  };
}
