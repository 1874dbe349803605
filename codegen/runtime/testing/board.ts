/** Test fixtures: the board channel's model and builders for its records and events. */

import type { ChannelEvent, ChannelModel, FlatRecord, RecordRef } from "../model.js";

export const boardModel: ChannelModel = {
  field: "boardChannel",
  root: "Board",
  types: {
    Board: {
      refs: {
        owner: { type: "BoardUser", many: false },
        settings: { type: "BoardSettings", many: false },
        labels: { type: "Label", many: true },
        columns: { type: "Column", many: true },
      },
    },
    Column: { refs: { cards: { type: "Card", many: true } } },
    Card: {
      refs: {
        assignee: { type: "BoardUser", many: false },
        creator: { type: "BoardUser", many: false },
        labels: { type: "Label", many: true },
        comments: { type: "Comment", many: true },
      },
    },
    Comment: { refs: { author: { type: "BoardUser", many: false } } },
    BoardUser: { refs: {} },
    Label: { refs: {} },
    BoardSettings: { refs: {} },
  },
};

export interface NestedUser {
  readonly __typename: "BoardUser";
  readonly id: string;
  readonly username: string;
}
export interface NestedLabel {
  readonly id: string;
  readonly name: string;
}
export interface NestedComment {
  readonly id: string;
  readonly text: string;
  readonly author: NestedUser | null;
}
export interface NestedCard {
  readonly id: string;
  readonly title: string;
  readonly assignee: NestedUser | null;
  readonly creator: NestedUser | null;
  readonly labels: readonly NestedLabel[];
  readonly comments: readonly NestedComment[];
  readonly meta?: unknown;
}
export interface NestedColumn {
  readonly id: string;
  readonly name: string;
  readonly cards: readonly NestedCard[];
}
export interface BoardState {
  readonly id: string;
  readonly name: string;
  readonly owner: NestedUser | null;
  readonly settings: { readonly id: string; readonly theme: string } | null;
  readonly labels: readonly NestedLabel[];
  readonly columns: readonly NestedColumn[];
}

export const user = (id: string, username = `user${id}`): FlatRecord => ({ __typename: "BoardUser", id, username });
export const label = (id: string, name = `label${id}`): FlatRecord => ({ __typename: "Label", id, name });
export const settings = (id: string, theme = "light"): FlatRecord => ({ __typename: "BoardSettings", id, theme });
export const board = (id: string, fields: Partial<Record<string, unknown>> = {}): FlatRecord => ({
  __typename: "Board",
  id,
  name: `board${id}`,
  owner: null,
  settings: null,
  labels: [],
  columns: [],
  ...fields,
});
export const column = (id: string, cards: string[], name = `column${id}`): FlatRecord => ({
  __typename: "Column",
  id,
  name,
  cards,
});
export const card = (id: string, fields: Partial<Record<string, unknown>> = {}): FlatRecord => ({
  __typename: "Card",
  id,
  title: `card${id}`,
  assignee: null,
  creator: null,
  labels: [],
  comments: [],
  ...fields,
});
export const comment = (id: string, author: string | null, text = `comment${id}`): FlatRecord => ({
  __typename: "Comment",
  id,
  text,
  author,
});

export function event(
  cursor: string,
  records: readonly FlatRecord[],
  deleted: readonly RecordRef[] = [],
  flags: { reset?: boolean; ready?: boolean } = {},
): ChannelEvent {
  return { cursor, reset: flags.reset ?? false, ready: flags.ready ?? true, records, deleted };
}

/** A one-event snapshot (reset and ready). */
export function snapshot(cursor: string, records: readonly FlatRecord[]): ChannelEvent {
  return event(cursor, records, [], { reset: true, ready: true });
}

/** The usual small board: 2 columns, 3 cards, shared users and labels, one comment. */
export function smallBoard(): FlatRecord[] {
  return [
    board("1", { owner: "10", settings: "7", labels: ["100", "101"], columns: ["c1", "c2"] }),
    settings("7"),
    user("10", "alice"),
    user("11", "bob"),
    label("100", "bug"),
    label("101", "feature"),
    column("c1", ["1", "2"]),
    column("c2", ["3"]),
    card("1", { assignee: "10", creator: "11", labels: ["100"], comments: ["m1"] }),
    card("2", { assignee: "11", creator: "10", labels: ["100", "101"] }),
    card("3", { assignee: null, creator: "10" }),
    comment("m1", "11"),
  ];
}

/** A board with `cards` cards spread over `columns` columns (plus users/labels), as one record list. */
export function bigBoard(cards: number, columns = 10): FlatRecord[] {
  const records: FlatRecord[] = [user("u1"), user("u2"), label("l1")];
  const columnIds: string[] = [];
  const perColumn = Math.ceil(cards / columns);
  for (let c = 0; c < columns; c++) {
    const ids: string[] = [];
    for (let i = c * perColumn; i < Math.min(cards, (c + 1) * perColumn); i++) {
      ids.push(String(i));
      records.push(card(String(i), { assignee: i % 2 ? "u1" : "u2", labels: ["l1"] }));
    }
    columnIds.push(`c${c}`);
    records.push(column(`c${c}`, ids));
  }
  records.push(board("1", { owner: "u1", labels: ["l1"], columns: columnIds }));
  return records;
}

/** Recursively freezes a value (to prove nothing handed out is mutated afterwards). */
export function deepFreeze<T>(value: T, seen = new Set<unknown>()): T {
  if (typeof value !== "object" || value === null || seen.has(value)) return value;
  seen.add(value);
  for (const v of Object.values(value)) deepFreeze(v, seen);
  return Object.freeze(value);
}
