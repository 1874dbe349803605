import { describe, expect, it } from "vitest";
import { RecordGraph } from "./graph.js";
import type { ChannelModel, FlatRecord } from "./model.js";
import { boardModel, card, column, board, user } from "./testing/board.js";
import type { BoardState } from "./testing/board.js";

function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error("expected a value");
  return value;
}

/** A graph loaded with `records` (as a snapshot into an empty graph), rooted at `root`. */
function loadedGraph(records: readonly FlatRecord[], root = "Board:1", model: ChannelModel = boardModel): RecordGraph {
  const graph = new RecordGraph(model);
  graph.load(
    records.map((r) => `${r.__typename}:${r.id}`),
    records,
  );
  graph.setRoot(root);
  return graph;
}

/** A board of one column holding `cards` cards, every card assigned to user u1. */
function assignedBoard(cards: number): FlatRecord[] {
  const ids = Array.from({ length: cards }, (_, i) => String(i));
  return [
    user("u1"),
    user("u2"),
    ...ids.map((id) => card(id, { assignee: "u1" })),
    column("c1", ids),
    board("1", { columns: ["c1"] }),
  ];
}

describe("parent links", () => {
  it.each([3, 40])("a child shared by %i parents reaches exactly the parents left after one is unlinked", (cards) => {
    const graph = loadedGraph(assignedBoard(cards));
    const before = graph.build() as BoardState;
    expect(graph.parentsOf("BoardUser:u1").size).toBe(cards);
    // card 1 (neither the first nor the last parent linked) moves to u2
    graph.set("Card:1", card("1", { assignee: "u2" }));
    expect(graph.parentsOf("BoardUser:u1")).toEqual(new Set(Array.from({ length: cards }, (_, i) => `Card:${i}`).filter((k) => k !== "Card:1")));
    expect(graph.parentsOf("BoardUser:u2")).toEqual(new Set(["Card:1"]));
    const moved = graph.build() as BoardState;
    // a change of u1 rebuilds every card still holding it, and not card 1
    graph.set("BoardUser:u1", user("u1", "renamed"));
    const after = graph.build() as BoardState;
    const list = must(after.columns[0]).cards;
    expect(list[1]).toBe(must(moved.columns[0]).cards[1]);
    expect(list[1]?.assignee?.username).toBe("useru2");
    for (let i = 0; i < cards; i++) {
      if (i === 1) continue;
      expect(list[i]).not.toBe(must(before.columns[0]).cards[i]);
      expect(list[i]?.assignee?.username).toBe("renamed");
    }
    // and the removed parent can come back
    graph.set("Card:1", card("1", { assignee: "u1" }));
    expect(graph.parentsOf("BoardUser:u1").size).toBe(cards);
    expect(graph.parentsOf("BoardUser:u2").size).toBe(0);
  });

  it("links a child listed twice by one record once, and unlinks it with the record", () => {
    const graph = loadedGraph([user("u1"), card("1", { assignee: "u1", creator: "u1" }), column("c1", ["1", "1"]), board("1", { columns: ["c1"] })]);
    expect(graph.parentsOf("BoardUser:u1")).toEqual(new Set(["Card:1"]));
    expect(graph.parentsOf("Card:1")).toEqual(new Set(["Column:c1"]));
    const state = graph.build() as BoardState;
    expect(must(state.columns[0]).cards).toHaveLength(2);
    graph.set("Card:1", undefined);
    expect(graph.parentsOf("BoardUser:u1").size).toBe(0);
    expect(graph.has("Card:1")).toBe(false);
    expect((graph.build() as BoardState).columns[0]?.cards).toEqual([]);
  });
});

describe("load", () => {
  it("applies a transaction's ops in order: a later write of a key wins, a delete removes, links follow", () => {
    const graph = new RecordGraph(boardModel);
    graph.load(
      ["BoardUser:u1", "BoardUser:u2", "Card:1", "Card:2", "Card:1", "Card:2", "Column:c1", "Board:1"],
      [user("u1"), user("u2"), card("1", { assignee: "u1" }), card("2", { assignee: "u1" }), card("1", { assignee: "u2" }), null, column("c1", ["1", "2"]), board("1", { columns: ["c1"] })],
    );
    graph.setRoot("Board:1");
    expect(graph.size).toBe(5);
    expect(graph.serverSize).toBe(5);
    expect(graph.get("Card:1")?.assignee).toBe("u2");
    expect(graph.has("Card:2")).toBe(false);
    expect(graph.getServer("Card:2")).toBeUndefined();
    expect(graph.parentsOf("BoardUser:u1").size).toBe(0);
    expect(graph.parentsOf("BoardUser:u2")).toEqual(new Set(["Card:1"]));
    const state = graph.build() as BoardState;
    expect(must(state.columns[0]).cards.map((c) => c.assignee?.id)).toEqual(["u2"]);
  });
});

describe("server records", () => {
  it("are kept beside the visible records, on their own", () => {
    const graph = new RecordGraph(boardModel);
    expect(graph.setServer("Card:1", card("1"))).toBe(false);
    expect(graph.setServer("Card:1", card("1", { title: "v2" }))).toBe(true);
    expect(graph.getServer("Card:1")?.title).toBe("v2");
    expect(graph.get("Card:1")).toBeUndefined();
    expect(graph.size).toBe(0);
    expect(graph.serverSize).toBe(1);
    graph.set("Card:1", card("1", { title: "optimistic" }));
    expect(graph.get("Card:1")?.title).toBe("optimistic");
    expect(graph.setServer("Card:1", undefined)).toBe(true);
    expect(graph.setServer("Card:1", undefined)).toBe(false);
    expect(graph.serverSize).toBe(0);
    expect([...graph.serverKeys()]).toEqual([]);
    expect(graph.get("Card:1")?.title).toBe("optimistic");
  });
});

describe("lists", () => {
  it("renders every empty list as one frozen array, and a list that fills up as a new one", () => {
    const graph = loadedGraph([card("1"), card("2"), column("c1", ["1", "2"]), column("c2", []), board("1", { columns: ["c1", "c2"] })]);
    const before = graph.build() as BoardState;
    const [c1, c2] = before.columns;
    expect(must(c1).cards[0]?.comments).toBe(must(c1).cards[1]?.comments);
    expect(must(c2).cards).toBe(must(c1).cards[0]?.comments);
    expect(Object.isFrozen(must(c2).cards)).toBe(true);
    graph.set("Column:c2", column("c2", ["1"]));
    const after = graph.build() as BoardState;
    expect(must(after.columns[1]).cards).toEqual([must(c1).cards[0]]);
    expect(Object.isFrozen(must(after.columns[1]).cards)).toBe(false);
    expect(must(after.columns[0]).cards).toBe(must(c1).cards);
  });

  it("records a cut in a list even when a later child of that list holds lists of its own", () => {
    const model: ChannelModel = { field: "tree", root: "Node", types: { Node: { refs: { children: { type: "Node", many: true } } } } };
    const node = (id: string, children: string[]): FlatRecord => ({ __typename: "Node", id, children });
    interface Tree {
      readonly id: string;
      readonly children: readonly Tree[];
    }
    // 2 lists 1 (its ancestor when the root is 1: cut) before 3, whose own list is built after the cut
    const graph = loadedGraph([node("1", ["2"]), node("2", ["1", "3"]), node("3", ["4"]), node("4", [])], "Node:1", model);
    const fromOne = graph.build() as Tree;
    expect(must(fromOne.children[0]).children.map((c) => c.id)).toEqual(["3"]);
    // from root 2, node 1 is no longer an ancestor of 2: the cut must be re-evaluated
    graph.setRoot("Node:2");
    const fromTwo = graph.build() as Tree;
    expect(fromTwo.children.map((c) => c.id)).toEqual(["1", "3"]);
    expect(must(fromTwo.children[0]).children).toEqual([]);
  });
});
