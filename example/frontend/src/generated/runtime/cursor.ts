/**
 * Stream cursors: `"<epoch>.<version>"`, the version an integer that grows within one epoch.
 * Cursors of different epochs are not comparable (the server restarted its stream); the empty string means
 * "no position" (intermediate snapshot batches carry it).
 */

export interface ParsedCursor {
  readonly epoch: string;
  readonly version: number;
}

/** Parses a cursor; null for "" or anything malformed. */
export function parseCursor(cursor: string | null | undefined): ParsedCursor | null {
  if (!cursor) return null;
  const dot = cursor.lastIndexOf(".");
  if (dot <= 0) return null;
  const digits = cursor.slice(dot + 1);
  if (!/^\d+$/.test(digits)) return null;
  return { epoch: cursor.slice(0, dot), version: Number(digits) };
}

/**
 * True when `next` is not newer than `last` within the same epoch, i.e. an event at `next` was already
 * applied (or superseded). Different epochs, or an unparsable cursor on either side, are never stale.
 */
export function isStale(next: string, last: string): boolean {
  const n = parseCursor(next);
  const l = parseCursor(last);
  if (n === null || l === null || n.epoch !== l.epoch) return false;
  return n.version <= l.version;
}
