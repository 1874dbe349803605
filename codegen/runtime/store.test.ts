import { describe, expect, it, vi } from "vitest";
import type { ChannelEvent, ChannelModel, FlatRecord } from "./model.js";
import { ChannelStore, feedOf } from "./store.js";
import {
  bigBoard,
  board,
  boardModel,
  card,
  column,
  comment,
  deepFreeze,
  event,
  label,
  smallBoard,
  snapshot,
  user,
} from "./testing/board.js";
import type { BoardState } from "./testing/board.js";

function loaded(records = smallBoard(), options: { freeze?: boolean } = {}): ChannelStore<BoardState> {
  const store = new ChannelStore<BoardState>(boardModel, options);
  feedOf(store).apply(snapshot("e1.1", records));
  return store;
}

function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error("expected a value");
  return value;
}

describe("nested state", () => {
  it("is null before the first snapshot, then the nested tree of the anchor", () => {
    const store = new ChannelStore<BoardState>(boardModel);
    expect(store.state).toBeNull();
    expect(store.ready).toBe(false);
    expect(store.cursor).toBe("");
    feedOf(store).apply(snapshot("e1.1", smallBoard()));
    const s = must(store.state);
    expect(store.ready).toBe(true);
    expect(store.cursor).toBe("e1.1");
    expect(s.name).toBe("board1");
    expect(s.owner?.username).toBe("alice");
    expect(s.settings?.theme).toBe("light");
    expect(s.labels.map((l) => l.name)).toEqual(["bug", "feature"]);
    expect(s.columns.map((c) => c.cards.map((k) => k.id))).toEqual([["1", "2"], ["3"]]);
    const c1 = must(s.columns[0]?.cards[0]);
    expect(c1.comments[0]?.author?.username).toBe("bob");
    expect(c1.labels[0]?.name).toBe("bug");
  });

  it("renders a null reference as null", () => {
    const s = must(loaded().state);
    expect(s.columns[1]?.cards[0]?.assignee).toBeNull();
  });

  it("shares one object per record, wherever it is referenced", () => {
    const s = must(loaded().state);
    const [card1, card2] = must(s.columns[0]).cards;
    expect(s.owner).toBe(card1?.assignee);
    expect(s.owner).toBe(card2?.creator);
    expect(card1?.creator).toBe(card1?.comments[0]?.author);
    expect(s.labels[0]).toBe(card1?.labels[0]);
    expect(s.labels[1]).toBe(card2?.labels[1]);
  });

  it("returns the same object while nothing changes", () => {
    const store = loaded();
    expect(store.state).toBe(store.state);
  });

  it("finds the anchor among several records of the root type (the one nobody references)", () => {
    const model: ChannelModel = {
      field: "categoryChannel",
      root: "Category",
      types: { Category: { refs: { children: { type: "Category", many: true } } } },
    };
    interface Cat {
      id: string;
      children: Cat[];
    }
    const store = new ChannelStore<Cat>(model);
    feedOf(store).apply(
      snapshot("e.1", [
        { __typename: "Category", id: "2", children: ["3"] },
        { __typename: "Category", id: "3", children: [] },
        { __typename: "Category", id: "1", children: ["2"] },
      ]),
    );
    expect(store.state?.id).toBe("1");
    expect(store.state?.children[0]?.children[0]?.id).toBe("3");
  });

  it("uses an explicit rootId", () => {
    const store = new ChannelStore<BoardState>(boardModel, { rootId: "2" });
    feedOf(store).apply(snapshot("e.1", [board("1"), board("2", { name: "second" })]));
    expect(store.state?.name).toBe("second");
  });
});

describe("structural sharing", () => {
  it("gives new identities to the changed record and its ancestors only", () => {
    const store = loaded();
    const before = must(store.state);
    feedOf(store).apply(event("e1.2", [card("2", { title: "renamed", assignee: "11", creator: "10", labels: ["100", "101"] })]));
    const after = must(store.state);
    expect(after).not.toBe(before);
    expect(after.columns).not.toBe(before.columns);
    expect(after.columns[0]).not.toBe(before.columns[0]);
    expect(after.columns[0]?.cards).not.toBe(before.columns[0]?.cards);
    expect(after.columns[0]?.cards[1]).not.toBe(before.columns[0]?.cards[1]);
    expect(after.columns[0]?.cards[1]?.title).toBe("renamed");
    // untouched: siblings, other columns, other branches, shared children
    expect(after.columns[0]?.cards[0]).toBe(before.columns[0]?.cards[0]);
    expect(after.columns[1]).toBe(before.columns[1]);
    expect(after.labels).toBe(before.labels);
    expect(after.owner).toBe(before.owner);
    expect(after.settings).toBe(before.settings);
    expect(after.columns[0]?.cards[1]?.labels).toBe(before.columns[0]?.cards[1]?.labels);
    // the old state is unchanged
    expect(before.columns[0]?.cards[1]?.title).toBe("card2");
  });

  it("patches one card of a long column: a new list with the same card objects but one, other columns kept", () => {
    // 200 cards per column: longer than the lists scanned for the changed child (a position index is used)
    const store = new ChannelStore<BoardState>(boardModel);
    feedOf(store).apply(snapshot("e.1", bigBoard(2_000)));
    const before = must(store.state);
    feedOf(store).apply(event("e.2", [card("450", { title: "changed", assignee: "u1", labels: ["l1"] })]));
    const after = must(store.state);
    const changed = must(after.columns[2]).cards;
    const old = must(before.columns[2]).cards;
    expect(changed).not.toBe(old);
    expect(changed).toHaveLength(old.length);
    changed.forEach((c, at) => {
      if (at === 50) {
        expect(c).not.toBe(old[at]);
        expect(c.title).toBe("changed");
        expect(c.labels).toBe(old[at]?.labels); // an equal list of the same children keeps its array
      } else {
        expect(c).toBe(old[at]);
      }
    });
    after.columns.forEach((col, at) => {
      if (at !== 2) expect(col).toBe(before.columns[at]);
    });
    expect(after.owner).toBe(before.owner);
    expect(after.labels).toBe(before.labels);
    expect(old[50]?.title).toBe("card450");
  });

  it("propagates a change of a shared child to every parent, once", () => {
    const store = loaded();
    const before = must(store.state);
    const built = store.stats.objectsBuilt;
    feedOf(store).apply(event("e1.2", [user("10", "alice2")]));
    const after = must(store.state);
    expect(after.owner?.username).toBe("alice2");
    expect(after.columns[0]?.cards[0]?.assignee).toBe(after.owner);
    expect(after.columns[0]?.cards[1]?.creator).toBe(after.owner);
    expect(after.columns[1]?.cards[0]?.creator).toBe(after.owner);
    // comment m1's author is bob: that comment keeps its identity
    expect(after.columns[0]?.cards[0]?.comments).toBe(before.columns[0]?.cards[0]?.comments);
    expect(after.labels).toBe(before.labels);
    // user, 3 cards, 2 cards arrays, 2 columns, columns array, board
    expect(store.stats.objectsBuilt - built).toBe(10);
  });

  it("never mutates an object it has handed out", () => {
    const store = loaded(smallBoard());
    const states: unknown[] = [];
    const snap = (): void => {
      const s = store.state;
      states.push(JSON.parse(JSON.stringify(s)));
      deepFreeze(s);
    };
    snap();
    feedOf(store).apply(event("e1.2", [card("1", { title: "x", assignee: "11", creator: "11", labels: [], comments: ["m1"] })]));
    snap();
    feedOf(store).apply(event("e1.3", [], [{ type: "Card", id: "2" }]));
    snap();
    feedOf(store).apply(event("e1.4", [column("c2", ["3", "2"])]));
    snap();
    feedOf(store).apply(event("e1.5", [card("2", { title: "back" })]));
    snap();
    feedOf(store).apply(event("e1.6", [user("11", "bobby")], [{ type: "Comment", id: "m1" }]));
    snap();
    feedOf(store).apply(snapshot("e1.7", smallBoard()));
    snap();
    // freezing did not break anything, and every state read back equals what was recorded at the time
    expect(states).toHaveLength(7);
    expect(store.state?.columns[1]?.cards.map((c) => c.id)).toEqual(["3"]);
  });

  it("keeps identities when a record is re-sent unchanged, and does not notify", () => {
    const store = loaded();
    const before = store.state;
    const listener = vi.fn();
    store.subscribe(listener);
    feedOf(store).apply(event("e1.2", [card("1", { assignee: "10", creator: "11", labels: ["100"], comments: ["m1"] })]));
    expect(store.state).toBe(before);
    // the cursor moved, so listeners hear about that, once
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("keeps unchanged JSON field values by identity", () => {
    const store = loaded([board("1", { columns: ["c1"] }), column("c1", ["1"]), card("1", { meta: { a: [1, 2] } })]);
    const meta = store.state?.columns[0]?.cards[0]?.meta;
    feedOf(store).apply(event("e1.2", [card("1", { meta: { a: [1, 2] }, title: "new" })]));
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("new");
    expect(store.state?.columns[0]?.cards[0]?.meta).toBe(meta);
  });

  it("freezes what it hands out with { freeze: true }", () => {
    const store = loaded(smallBoard(), { freeze: true });
    const s = must(store.state);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.columns)).toBe(true);
    expect(Object.isFrozen(s.columns[0]?.cards[0])).toBe(true);
    feedOf(store).apply(event("e1.2", [card("2", { title: "t" })]));
    expect(Object.isFrozen(store.state?.columns[0]?.cards)).toBe(true);
  });

  it("freezes JSON-valued fields too, however deep", () => {
    const store = loaded(smallBoard(), { freeze: true });
    feedOf(store).apply(event("e1.2", [card("1", { meta: { tags: ["a"], nested: { n: 1 } } })]));
    const meta = store.state?.columns[0]?.cards[0]?.meta as { tags: string[]; nested: { n: number } };
    expect(Object.isFrozen(meta)).toBe(true);
    expect(Object.isFrozen(meta.tags)).toBe(true);
    expect(Object.isFrozen(meta.nested)).toBe(true);
    expect(() => meta.tags.push("b")).toThrow(TypeError);
  });
});

describe("references to records not present", () => {
  it("renders a missing single ref as null and skips missing list entries, then fills them in", () => {
    const store = loaded([
      board("1", { owner: "10", columns: ["c1"] }),
      column("c1", ["1", "99", "2"]),
      card("1"),
      card("2"),
    ]);
    expect(store.state?.owner).toBeNull();
    expect(store.state?.columns[0]?.cards.map((c) => c.id)).toEqual(["1", "2"]);
    const card1 = store.state?.columns[0]?.cards[0];
    feedOf(store).apply(event("e1.2", [card("99", { title: "late" }), user("10", "alice")]));
    expect(store.state?.owner?.username).toBe("alice");
    expect(store.state?.columns[0]?.cards.map((c) => c.title)).toEqual(["card1", "late", "card2"]);
    expect(store.state?.columns[0]?.cards[0]).toBe(card1);
  });

  it("links children that arrived before their parent", () => {
    const store = new ChannelStore<BoardState>(boardModel);
    feedOf(store).apply(event("", [card("5"), user("10")], [], { reset: true, ready: false }));
    feedOf(store).apply(event("e.1", [board("1", { owner: "10", columns: ["c"] }), column("c", ["5"])]));
    expect(store.state?.columns[0]?.cards[0]?.id).toBe("5");
    expect(store.state?.owner?.id).toBe("10");
  });
});

describe("deletes", () => {
  it("removes the record from every parent and gives those parents new identities", () => {
    const store = loaded();
    const before = must(store.state);
    feedOf(store).apply(event("e1.2", [], [{ type: "Label", id: "100" }]));
    const after = must(store.state);
    expect(after.labels.map((l) => l.id)).toEqual(["101"]);
    expect(after.columns[0]?.cards[0]?.labels).toEqual([]);
    expect(after.columns[0]?.cards[1]?.labels.map((l) => l.id)).toEqual(["101"]);
    expect(after.columns[0]).not.toBe(before.columns[0]);
    expect(after.columns[1]).toBe(before.columns[1]);
  });

  it("nulls a single reference to a deleted record", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.2", [], [{ type: "BoardSettings", id: "7" }]));
    expect(store.state?.settings).toBeNull();
  });

  it("is idempotent: unknown ids, repeated deletes", () => {
    const store = loaded();
    const before = store.state;
    feedOf(store).apply(event("e1.2", [], [{ type: "Card", id: "404" }, { type: "Nope", id: "1" }]));
    expect(store.state).toBe(before);
    feedOf(store).apply(event("e1.3", [], [{ type: "Card", id: "3" }]));
    const once = store.state;
    feedOf(store).apply(event("e1.4", [], [{ type: "Card", id: "3" }, { type: "Card", id: "3" }]));
    expect(store.state).toBe(once);
    expect(store.state?.columns[1]?.cards).toEqual([]);
  });

  it("survives deleting a non-leaf record and later updates of its children", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.2", [], [{ type: "Column", id: "c1" }]));
    feedOf(store).apply(event("e1.3", [card("1", { title: "orphan update" })]));
    expect(store.state?.columns.map((c) => c.id)).toEqual(["c2"]);
    feedOf(store).apply(event("e1.4", [column("c1", ["1"])]));
    expect(store.state?.columns.map((c) => c.id)).toEqual(["c1", "c2"]);
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("orphan update");
  });

  it("the anchor's deletion leaves a null state", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.2", [], [{ type: "Board", id: "1" }]));
    expect(store.state).toBeNull();
  });
});

describe("re-pointed references", () => {
  it("does not snap back to the old target when it changes, nor lose the new one when the old is deleted", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.2", [board("1", { owner: "11", settings: "7", labels: ["100", "101"], columns: ["c1", "c2"] })]));
    expect(store.state?.owner?.username).toBe("bob");
    feedOf(store).apply(event("e1.3", [user("10", "alice2")]));
    expect(store.state?.owner?.username).toBe("bob");
    feedOf(store).apply(event("e1.4", [card("1", { assignee: "11", creator: "11", labels: ["100"], comments: ["m1"] }), card("2", { assignee: "11", creator: "11" }), card("3", { creator: "11" })]));
    feedOf(store).apply(event("e1.5", [], [{ type: "BoardUser", id: "10" }]));
    expect(store.state?.owner?.username).toBe("bob");
  });

  it("moves a card between columns", () => {
    const store = loaded();
    const before = must(store.state);
    feedOf(store).apply(event("e1.2", [column("c1", ["1"]), column("c2", ["3", "2"])]));
    const after = must(store.state);
    expect(after.columns.map((c) => c.cards.map((k) => k.id))).toEqual([["1"], ["3", "2"]]);
    expect(after.columns[1]?.cards[1]).toBe(before.columns[0]?.cards[1]);
    expect(after.columns[0]?.cards[0]).toBe(before.columns[0]?.cards[0]);
  });
});

describe("cycles", () => {
  const model: ChannelModel = {
    field: "treeChannel",
    root: "Node",
    types: {
      Node: { refs: { parent: { type: "Node", many: false }, children: { type: "Node", many: true }, buddy: { type: "Node", many: false } } },
    },
  };
  interface TreeNode {
    id: string;
    name: string;
    parent: TreeNode | null;
    children: TreeNode[];
    buddy: TreeNode | null;
  }
  const node = (id: string, parent: string | null, children: string[], buddy: string | null = null): Record<string, unknown> & { __typename: string; id: string } => ({
    __typename: "Node",
    id,
    name: `n${id}`,
    parent,
    children,
    buddy,
  });

  it("cuts references back to an ancestor instead of recursing forever", () => {
    const store = new ChannelStore<TreeNode>(model, { rootId: "1" });
    feedOf(store).apply(snapshot("e.1", [node("1", null, ["2", "3"]), node("2", "1", ["4"]), node("3", "1", []), node("4", "2", [], "4")]));
    const s = must(store.state);
    expect(s.children.map((c) => c.id)).toEqual(["2", "3"]);
    expect(s.children[0]?.parent).toBeNull(); // cut: 1 is being built
    expect(s.children[0]?.children[0]?.parent).toBeNull(); // cut: 2 is being built
    expect(s.children[0]?.children[0]?.buddy).toBeNull(); // self reference cut
    expect(store.getRecord("Node", "2")?.["parent"]).toBe("1"); // the flat record keeps it
  });

  it("cuts a cycle at the same place whatever order the updates arrived in (an unrelated update moves nothing)", () => {
    // 1 lists [2, 3]; 2 and 3 are buddies of each other: a build from scratch cuts 3 -> 2 (2 is on the path)
    const records = [node("1", null, ["2", "3"]), node("2", "1", [], "3"), node("3", "1", [], "2")];
    const store = new ChannelStore<TreeNode>(model, { rootId: "1" });
    feedOf(store).apply(snapshot("e.1", records));
    const before = must(store.state);
    expect(before.children[0]?.buddy?.id).toBe("3");
    expect(before.children[0]?.buddy?.buddy).toBeNull();
    // an update of 3's name alone, then of 2's: the cut must stay where a fresh build puts it
    feedOf(store).apply(event("e.2", [{ ...node("3", "1", [], "2"), name: "renamed" }]));
    feedOf(store).apply(event("e.3", [{ ...node("2", "1", [], "3"), name: "again" }]));
    const fresh = new ChannelStore<TreeNode>(model, { rootId: "1" });
    feedOf(fresh).apply(
      snapshot("e.3", [records[0], { ...node("2", "1", [], "3"), name: "again" }, { ...node("3", "1", [], "2"), name: "renamed" }] as FlatRecord[]),
    );
    expect(store.state).toEqual(fresh.state);
  });

  it("randomized: incremental state of a cyclic graph equals a build from scratch after every update", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seeded(seed);
      const ids = ["1", "2", "3", "4", "5", "6"];
      const pick = (): string => ids[Math.floor(random() * ids.length)] as string;
      const records = new Map<string, FlatRecord>();
      const make = (id: string): FlatRecord => {
        const children = ids.filter(() => random() < 0.3);
        return node(id, random() < 0.5 ? pick() : null, children, random() < 0.5 ? pick() : null) as FlatRecord;
      };
      for (const id of ids) records.set(id, make(id));
      const store = new ChannelStore<TreeNode>(model, { rootId: "1" });
      feedOf(store).apply(snapshot(`e.1`, [...records.values()]));
      for (let step = 2; step < 14; step++) {
        const id = pick();
        const next = random() < 0.5 ? { ...must(records.get(id)), name: `n${id}.${step}` } : make(id);
        records.set(id, next);
        feedOf(store).apply(event(`e.${step}`, [next]));
        const fresh = new ChannelStore<TreeNode>(model, { rootId: "1" });
        feedOf(fresh).apply(snapshot(`e.${step}`, ids.map((k) => must(records.get(k)))));
        expect(JSON.stringify(store.state), `seed ${seed} step ${step}`).toBe(JSON.stringify(fresh.state));
      }
    }
  });

  it("updates inside a cycle propagate, and unrelated branches keep their identity", () => {
    const store = new ChannelStore<TreeNode>(model, { rootId: "1" });
    feedOf(store).apply(snapshot("e.1", [node("1", null, ["2", "3"]), node("2", "1", ["4"]), node("3", "1", []), node("4", "2", [])]));
    const before = must(store.state);
    feedOf(store).apply(event("e.2", [{ ...node("4", "2", []), name: "renamed" }]));
    const after = must(store.state);
    expect(after.children[0]?.children[0]?.name).toBe("renamed");
    expect(after.children[1]).toBe(before.children[1]);
    expect(after.children[0]?.parent).toBeNull();
  });

  it("re-evaluates a cut when the path to the node changes", () => {
    // 1 -> 2 (buddy) and 2 -> 1 (buddy): 2's buddy is cut while 2 is reached from 1.
    const store = new ChannelStore<TreeNode>(model, { rootId: "1" });
    feedOf(store).apply(snapshot("e.1", [node("1", null, ["3"], "2"), node("2", null, [], "1"), node("3", "1", [])]));
    expect(store.state?.buddy?.buddy).toBeNull();
    // 1 now reaches 2 only through 3: 2 -> 1 is still a cycle back to the root, so still cut
    feedOf(store).apply(event("e.2", [node("1", null, ["3"], null), node("3", "1", [], "2")]));
    expect(store.state?.buddy).toBeNull();
    expect(store.state?.children[0]?.buddy?.id).toBe("2");
    expect(store.state?.children[0]?.buddy?.buddy).toBeNull();
    // 2 no longer points back: nothing is cut
    feedOf(store).apply(event("e.3", [node("2", null, [], "3")]));
    expect(store.state?.children[0]?.buddy?.buddy).toBeNull(); // 3 is on the path: cut
    feedOf(store).apply(event("e.4", [node("2", null, [], null)]));
    expect(store.state?.children[0]?.buddy?.buddy).toBeNull();
    expect(store.state?.children[0]?.buddy?.id).toBe("2");
  });

  it("shows a node again when the cycle that hid it is broken", () => {
    // root 1 -> 2 -> 3 -> 2 : 3's ref to 2 is cut. Then 1 -> 3 directly and 2 dropped from 1: 3 -> 2 must render.
    const store = new ChannelStore<TreeNode>(model, { rootId: "1" });
    feedOf(store).apply(snapshot("e.1", [node("1", null, ["2"]), node("2", null, ["3"]), node("3", null, [], "2")]));
    expect(store.state?.children[0]?.children[0]?.buddy).toBeNull();
    feedOf(store).apply(event("e.2", [node("1", null, ["3"]), node("2", null, [])]));
    expect(store.state?.children[0]?.id).toBe("3");
    expect(store.state?.children[0]?.buddy?.id).toBe("2");
  });
});

describe("events and cursors", () => {
  it("ignores an event older than the last applied one in the same epoch", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.5", [card("1", { title: "v5" })]));
    const applied = feedOf(store).apply(event("e1.4", [card("1", { title: "v4" })]));
    expect(applied).toBe(false);
    expect(feedOf(store).apply(event("e1.5", [card("1", { title: "v5-dup" })]))).toBe(false);
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("v5");
    expect(store.cursor).toBe("e1.5");
    expect(store.stats.eventsIgnored).toBe(2);
  });

  it("compares versions as integers, and accepts a new epoch", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.10", [card("1", { title: "v10" })]));
    expect(feedOf(store).apply(event("e1.9", [card("1", { title: "v9" })]))).toBe(false);
    expect(feedOf(store).apply(event("e2.3", [card("1", { title: "epoch2" })]))).toBe(true);
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("epoch2");
    expect(store.cursor).toBe("e2.3");
  });

  it("always applies a reset, even with an older cursor", () => {
    const store = loaded();
    feedOf(store).apply(event("e1.9", [card("1", { title: "v9" })]));
    feedOf(store).apply(snapshot("e1.2", smallBoard()));
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("card1");
    expect(store.cursor).toBe("e1.2");
  });

  it("buffers snapshot batches and shows them at once on ready", () => {
    const store = new ChannelStore<BoardState>(boardModel);
    const listener = vi.fn();
    store.subscribe(listener);
    const records = smallBoard();
    feedOf(store).apply(event("", records.slice(0, 4), [], { reset: true, ready: false }));
    expect(store.state).toBeNull();
    expect(store.ready).toBe(false);
    feedOf(store).apply(event("", records.slice(4, 8), [], { ready: false }));
    expect(store.state).toBeNull();
    feedOf(store).apply(event("e1.1", records.slice(8), [], { ready: true }));
    expect(store.ready).toBe(true);
    expect(store.state?.columns[0]?.cards).toHaveLength(2);
    expect(store.cursor).toBe("e1.1");
    expect(listener).toHaveBeenCalledTimes(1); // ready stayed false during the batches, then one change
  });

  it("keeps showing the previous state while a reset snapshot streams, and diffs it in", () => {
    const store = loaded();
    const before = must(store.state);
    const records = smallBoard().filter((r) => !(r.__typename === "Card" && r.id === "3"));
    const changed = records.map((r) =>
      r.__typename === "Column" && r.id === "c2" ? column("c2", []) : r.__typename === "Card" && r.id === "2" ? { ...r, title: "new" } : r,
    );
    feedOf(store).apply(event("", changed.slice(0, 5), [], { reset: true, ready: false }));
    expect(store.ready).toBe(false);
    expect(store.state).toBe(before);
    feedOf(store).apply(event("e2.1", changed.slice(5), [], { ready: true }));
    const after = must(store.state);
    expect(after.columns[1]?.cards).toEqual([]);
    expect(after.columns[0]?.cards[1]?.title).toBe("new");
    expect(after.columns[0]?.cards[0]).toBe(before.columns[0]?.cards[0]); // unchanged subtrees kept
    expect(after.labels).toBe(before.labels);
    expect(store.getRecord("Card", "3")).toBeUndefined(); // absent from the reset: dropped
  });

  it("discards a partial snapshot on interrupt, keeping the state and cursor consistent", () => {
    const store = loaded();
    const before = store.state;
    feedOf(store).apply(event("", [card("1", { title: "partial" })], [], { reset: true, ready: false }));
    expect(store.ready).toBe(false);
    feedOf(store).interrupt();
    expect(store.ready).toBe(true);
    expect(store.cursor).toBe("e1.1");
    expect(store.state).toBe(before);
    // the resumed stream answers with only the missed change
    feedOf(store).apply(event("e1.2", [card("1", { title: "missed" })]));
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("missed");
  });

  it("sets ready on a catch-up that brings nothing new", () => {
    const store = loaded();
    feedOf(store).apply(event("", [], [], { ready: false }));
    expect(store.ready).toBe(false);
    expect(feedOf(store).apply(event("e1.1", []))).toBe(false);
    expect(store.ready).toBe(true);
  });

  it("notifies once per applied event, and not for ignored ones", () => {
    const store = loaded();
    const listener = vi.fn();
    const unsubscribe = store.subscribe(listener);
    feedOf(store).apply(event("e1.2", [card("1", { title: "a" }), card("2", { title: "b" })], [{ type: "Card", id: "3" }]));
    expect(listener).toHaveBeenCalledTimes(1);
    feedOf(store).apply(event("e1.2", [card("1", { title: "ignored" })]));
    expect(listener).toHaveBeenCalledTimes(1);
    unsubscribe();
    feedOf(store).apply(event("e1.3", [card("1", { title: "c" })]));
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("reads records with getRecord and clears everything with clear()", () => {
    const store = loaded();
    expect(store.getRecord("Card", "1")?.["title"]).toBe("card1");
    expect(store.getRecord("Card", "nope")).toBeUndefined();
    store.clear();
    expect(store.state).toBeNull();
    expect(store.cursor).toBe("");
    expect(store.ready).toBe(false);
    feedOf(store).apply(snapshot("e9.1", smallBoard()));
    expect(store.state?.name).toBe("board1");
  });
});

describe("snapshot into an empty store", () => {
  it("loads without dirty tracking and renders the same state as record-by-record application", () => {
    const fast = new ChannelStore<BoardState>(boardModel);
    feedOf(fast).apply(snapshot("e1.1", bigBoard(500)));
    const slow = new ChannelStore<BoardState>(boardModel);
    feedOf(slow).apply(snapshot("e1.0", [board("1")])); // not empty: the diffing path
    feedOf(slow).apply(snapshot("e1.1", bigBoard(500)));
    expect(fast.state).toEqual(slow.state);
    // one object per record and list, each built once
    expect(fast.stats.recordsBuilt).toBe(bigBoard(500).length);
    // and a patch after the fast load still costs only its ancestors
    const built = fast.stats.objectsBuilt;
    feedOf(fast).apply(event("e1.2", [card("7", { assignee: "u1", labels: ["l1"], title: "patched" })]));
    void fast.state;
    expect(fast.stats.objectsBuilt - built).toBeLessThanOrEqual(6);
  });
});

describe("cost per patch", () => {
  function patchCost(cards: number): { built: number; records: number; snapshotBuilt: number } {
    const store = new ChannelStore<BoardState>(boardModel);
    feedOf(store).apply(snapshot("e.1", bigBoard(cards)));
    expect(store.state?.columns).toHaveLength(10);
    const snapshotBuilt = store.stats.objectsBuilt;
    const before = { ...store.stats };
    // one card changes
    feedOf(store).apply(event("e.2", [card(String(Math.floor(cards / 2)), { title: "changed", assignee: "u1", labels: ["l1"] })]));
    expect(store.state?.columns[5]?.cards[0]?.title).toBe("changed");
    // a comment arrives and is attached to a card (two records)
    feedOf(store).apply(event("e.3", [comment("x", "u2"), card("7", { assignee: "u1", labels: ["l1"], comments: ["x"] })]));
    expect(store.state?.columns[0]?.cards[7]?.comments[0]?.author?.id).toBe("u2");
    return {
      built: store.stats.objectsBuilt - before.objectsBuilt,
      records: store.stats.recordsBuilt - before.recordsBuilt,
      snapshotBuilt,
    };
  }

  it("builds the same number of objects for a patch at 1k and 100k records", () => {
    const small = patchCost(1_000);
    const large = patchCost(100_000);
    expect(large.built).toBe(small.built);
    expect(large.records).toBe(small.records);
    // patch 1: card, column, cards array, columns array, board = 5
    // patch 2: comment, card, comments array, column, cards array, columns array, board = 7
    expect(small.built).toBe(12);
    // a snapshot builds each record once plus its arrays: linear in its size
    expect(large.snapshotBuilt / small.snapshotBuilt).toBeGreaterThan(95);
    expect(large.snapshotBuilt / small.snapshotBuilt).toBeLessThan(105);
  });

  it("a label change reaches every card holding it (shared child), each once", () => {
    const store = new ChannelStore<BoardState>(boardModel);
    feedOf(store).apply(snapshot("e.1", bigBoard(1_000)));
    void store.state;
    const before = store.stats.recordsBuilt;
    feedOf(store).apply(event("e.2", [label("l1", "renamed")]));
    expect(store.state?.columns[3]?.cards[4]?.labels[0]?.name).toBe("renamed");
    // label + 1000 cards + 10 columns + board
    expect(store.stats.recordsBuilt - before).toBe(1 + 1_000 + 10 + 1);
  });
});

describe("robustness", () => {
  it("skips malformed records and renders types missing from the model as plain objects", () => {
    const store = loaded([
      board("1", { columns: ["c1"], extra: { __typename: "Whatever" } }),
      column("c1", ["1"]),
      card("1", { comments: ["m1"] }),
      { __typename: "Comment", id: "m1", text: "hi", author: null },
    ]);
    const bad = [{ id: "2", title: "no type" }, { __typename: "Card", id: null }] as unknown as never[];
    expect(feedOf(store).apply(event("e1.2", bad, [{ type: "Card" } as never]))).toBe(true);
    expect(store.state?.columns[0]?.cards.map((c) => c.id)).toEqual(["1"]);
    const other = new ChannelStore<{ id: string; anything: unknown }>({ field: "x", root: "Thing", types: {} });
    feedOf(other).apply(snapshot("e.1", [{ __typename: "Thing", id: "1", anything: ["a", "b"] }]));
    expect(other.state).toEqual({ __typename: "Thing", id: "1", anything: ["a", "b"] });
  });
});

describe("runtime state", () => {
  it("keeps the latest runtime state sent, notifies on change, and ignores events without one", () => {
    const store = new ChannelStore(runtimeModel);
    let notified = 0;
    store.subscribe(() => notified++);
    feedOf(store).apply({ cursor: "e.1", reset: true, ready: true, records: [{ __typename: "Room", id: "1" }], deleted: [], runtime: { typing: [] } });
    expect(store.runtime).toEqual({ typing: [] });
    const after = notified;
    feedOf(store).apply({ cursor: "e.1", reset: false, ready: true, records: [], deleted: [], runtime: { typing: ["bob"] } });
    expect(store.runtime).toEqual({ typing: ["bob"] });
    expect(notified).toBe(after + 1);
    feedOf(store).apply({ cursor: "e.2", reset: false, ready: true, records: [{ __typename: "Room", id: "1", name: "x" }], deleted: [], runtime: null });
    expect(store.runtime).toEqual({ typing: ["bob"] });
  });
});

const runtimeModel = { field: "roomChannel", root: "Room", types: { Room: { refs: {} } } };

describe("notifications", () => {
  it("hands each notification to the listeners once, without touching the state", () => {
    const store = new ChannelStore(runtimeModel);
    feedOf(store).apply({ cursor: "e.1", reset: true, ready: true, records: [{ __typename: "Room", id: "1" }], deleted: [] });
    const state = store.state;
    const seen: unknown[] = [];
    const stop = store.onNotification((n) => seen.push(n));
    feedOf(store).apply({ cursor: "", reset: false, ready: true, records: [], deleted: [], notifications: [{ kind: "a" }] });
    expect(seen).toEqual([{ kind: "a" }]);
    expect(store.state).toBe(state);
    stop();
    feedOf(store).apply({ cursor: "", reset: false, ready: true, records: [], deleted: [], notifications: [{ kind: "b" }] });
    expect(seen).toEqual([{ kind: "a" }]);
  });
});

describe("list channels", () => {
  const listModel: ChannelModel = { ...boardModel, field: "myBoards", many: true };
  const two = [...smallBoard(), board("2", { owner: "10", settings: null, labels: [], columns: [] })];

  function list(anchors: readonly string[], records: readonly FlatRecord[], reset = false): ChannelEvent {
    return { cursor: "", reset, ready: true, records, deleted: [], anchors };
  }

  it("is null before the first snapshot, then the anchors' states in the announced order", () => {
    const store = new ChannelStore<readonly BoardState[]>(listModel);
    expect(store.state).toBeNull();
    feedOf(store).apply(list(["2", "1"], two, true));
    const s = must(store.state);
    expect(s.map((b) => b.id)).toEqual(["2", "1"]);
    // a user shown by both boards is one object
    expect(s[0]?.owner).toBe(s[1]?.owner);
    expect(store.cursor).toBe("");
    expect(store.ready).toBe(true);
  });

  it("keeps the array while nothing changed and rebuilds only the changed anchor", () => {
    const store = new ChannelStore<readonly BoardState[]>(listModel);
    feedOf(store).apply(list(["1", "2"], two, true));
    const before = must(store.state);
    expect(store.state).toBe(before);
    const renamed = board("2", { name: "renamed", owner: "10", settings: null, labels: [], columns: [] });
    feedOf(store).apply({ cursor: "", reset: false, ready: true, records: [renamed], deleted: [] });
    const after = must(store.state);
    expect(after).not.toBe(before);
    expect(after[0]).toBe(before[0]);
    expect(after[1]?.name).toBe("renamed");
  });

  it("follows the anchor order of later events, applied with their transaction", () => {
    const store = new ChannelStore<readonly BoardState[]>(listModel);
    feedOf(store).apply(list(["1"], smallBoard(), true));
    const added = board("2", { owner: "10", settings: null, labels: [], columns: [] });
    feedOf(store).apply({ cursor: "", reset: false, ready: false, records: [added], deleted: [] });
    expect(must(store.state).map((b) => b.id)).toEqual(["1"]);
    feedOf(store).apply(list(["2", "1"], []));
    expect(must(store.state).map((b) => b.id)).toEqual(["2", "1"]);
    feedOf(store).apply({ ...list(["1"], []), deleted: [{ type: "Board", id: "2" }] });
    expect(must(store.state).map((b) => b.id)).toEqual(["1"]);
    feedOf(store).apply(list([], []));
    expect(store.state).toEqual([]);
  });

  it("leaves out an anchor whose record is missing and never compares cursors", () => {
    const store = new ChannelStore<readonly BoardState[]>(listModel);
    feedOf(store).apply(list(["1", "9"], smallBoard(), true));
    expect(must(store.state).map((b) => b.id)).toEqual(["1"]);
    expect(store.stats.eventsIgnored).toBe(0);
  });

  it("clear() forgets the list", () => {
    const store = new ChannelStore<readonly BoardState[]>(listModel);
    feedOf(store).apply(list(["1"], smallBoard(), true));
    store.clear();
    expect(store.state).toBeNull();
  });
});

/** A small seeded random generator (deterministic runs). */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
