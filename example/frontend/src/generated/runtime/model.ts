/**
 * Shapes shared by every part of the runtime: the channel model handed over by the generated code,
 * the flat records and events that arrive on the wire, and the `type:id` record keys.
 */

/** One reference field of a record type: the referenced type, and whether the field holds a list of ids. */
export interface RefSpec {
  readonly type: string;
  readonly many: boolean;
}

/** The reference fields of one record type (fields not listed are copied into the nested state as they are). */
export interface TypeSpec {
  readonly refs: Readonly<Record<string, RefSpec>>;
}

/**
 * Description of one channel, generated from the schema:
 * `field` is the subscription field (`boardChannel`), `root` the anchor's record type (`Board`);
 * `many` for a list channel, whose state is the list of its anchors' nested states.
 */
export interface ChannelModel {
  readonly field: string;
  readonly root: string;
  readonly many?: boolean;
  readonly types: Readonly<Record<string, TypeSpec>>;
  /** A hash of the channel's subscription document: a persisted state of another version is discarded. */
  readonly version?: string;
}

/**
 * A flat record as the server sends it: `__typename`, `id` and every field camelCased; a reference is the
 * child's id (`string | null`) or an ordered list of ids (`string[]`).
 */
export interface FlatRecord {
  readonly __typename: string;
  readonly id: string;
  readonly [field: string]: unknown;
}

/** Reference to a record by GraphQL type name and id (the shape of `deleted` entries). */
export interface RecordRef {
  readonly type: string;
  readonly id: string;
}

/** One subscription event of a channel (the value of `data[model.field]`). */
export interface ChannelEvent {
  readonly cursor: string;
  readonly reset: boolean;
  readonly ready: boolean;
  readonly records: readonly FlatRecord[];
  readonly deleted: readonly RecordRef[];
  /** The subscription's runtime state, when the channel has one and it is sent (first event, changes). */
  readonly runtime?: unknown;
  /** Notifications sent to this channel's subscribers (or to this user); not stored by the store. */
  readonly notifications?: readonly unknown[];
  /** A list channel's anchor ids in order, when the list changed (null or absent otherwise). */
  readonly anchors?: readonly string[] | null;
}

/**
 * The state of the stream feeding a store (and of a connection): `unauthorized` after the server rejected the
 * credentials (close code 4403); the connection keeps retrying, with a fresh token from its provider.
 */
export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "unauthorized" | "closed";

/** The key of a record in the store: `Type:id`. Type names never contain `:`; ids may. */
export function recordKey(type: string, id: string): string {
  return `${type}:${id}`;
}

/** Splits a record key back into its type and id. */
export function splitKey(key: string): RecordRef {
  const at = key.indexOf(":");
  return { type: key.slice(0, at), id: key.slice(at + 1) };
}

/** The keys of every record referenced by `record` through the reference fields of its type. */
export function childKeys(model: ChannelModel, record: FlatRecord): Set<string> {
  const out = new Set<string>();
  const spec = model.types[record.__typename];
  if (spec === undefined) return out;
  for (const field in spec.refs) {
    const ref = spec.refs[field];
    if (ref === undefined) continue;
    const value = record[field];
    if (ref.many) {
      if (Array.isArray(value)) {
        for (const id of value) if (id != null) out.add(recordKey(ref.type, String(id)));
      }
    } else if (value != null) {
      out.add(recordKey(ref.type, String(value)));
    }
  }
  return out;
}

/** Structural equality of JSON values (what record fields hold). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bo).length) return false;
  for (const k of keys) {
    if (!Object.prototype.hasOwnProperty.call(bo, k) || !jsonEqual(ao[k], bo[k])) return false;
  }
  return true;
}
