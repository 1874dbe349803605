import WebSocket from "ws";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ChannelEvent } from "./model.js";
import { ChannelStore, feedOf } from "./store.js";
import { boardModel, card, column, event, smallBoard, snapshot, user } from "./testing/board.js";
import type { BoardState } from "./testing/board.js";
import { TestServer, until } from "./testing/server.js";
import type { Operation } from "./testing/server.js";
import { Connection } from "./transport.js";

/** A store with optimistic writes, and a reference store that only ever sees the server's events. */
function pair(): { store: ChannelStore<BoardState>; server: ChannelStore<BoardState>; send(e: ChannelEvent): void } {
  const store = new ChannelStore<BoardState>(boardModel);
  const server = new ChannelStore<BoardState>(boardModel);
  const send = (e: ChannelEvent): void => {
    feedOf(store).apply(e);
    feedOf(server).apply(e);
  };
  send(snapshot("e.1", smallBoard()));
  return { store, server, send };
}

const titles = (s: BoardState | null): string[][] => (s?.columns ?? []).map((c) => c.cards.map((k) => `${k.id}:${k.title}`));

describe("optimistic updates", () => {
  it("shows the write at once and rolls back exactly, even after interleaved server patches", () => {
    const { store, server, send } = pair();
    const untouched = store.state?.columns[1];
    const handle = store.optimistic("w1", { upserts: [{ __typename: "Card", id: "1", title: "optimistic" }] });
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("optimistic");
    expect(store.state?.columns[0]?.cards[0]?.assignee?.id).toBe("10"); // other fields from the server record
    expect(store.getServerRecord("Card", "1")?.["title"]).toBe("card1");
    // the server changes the same record (another field) and other records meanwhile
    send(event("e.2", [card("1", { title: "card1", assignee: "11", creator: "11", labels: ["100"], comments: ["m1"] })]));
    send(event("e.3", [user("11", "bobby"), card("2", { title: "server2" })]));
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("optimistic");
    expect(store.state?.columns[0]?.cards[0]?.assignee?.username).toBe("bobby");
    handle.rollback();
    expect(handle.status).toBe("rolledBack");
    expect(store.state).toEqual(server.state);
    expect(store.state?.columns[1]).toBe(untouched);
    handle.rollback(); // idempotent
    expect(store.state).toEqual(server.state);
  });

  it("rollback of one layer keeps the later layers", () => {
    const { store } = pair();
    const a = store.optimistic("a", { upserts: [{ __typename: "Card", id: "1", title: "A" }] });
    store.optimistic("b", { upserts: [{ __typename: "Card", id: "2", title: "B" }] });
    store.optimistic("c", { upserts: [{ __typename: "Card", id: "1", title: "C" }] });
    expect(titles(store.state)[0]).toEqual(["1:C", "2:B"]);
    a.rollback();
    expect(titles(store.state)[0]).toEqual(["1:C", "2:B"]);
  });

  it("a layer with the same id replaces the previous one", () => {
    const { store } = pair();
    store.optimistic("edit", { upserts: [{ __typename: "Card", id: "1", title: "first" }] });
    const second = store.optimistic("edit", { upserts: [{ __typename: "Card", id: "2", title: "second" }] });
    expect(titles(store.state)[0]).toEqual(["1:card1", "2:second"]);
    second.rollback();
    expect(titles(store.state)[0]).toEqual(["1:card1", "2:card2"]);
  });

  it("notifies once per optimistic change", () => {
    const { store } = pair();
    const listener = vi.fn();
    store.subscribe(listener);
    const h = store.optimistic("w", { upserts: [{ __typename: "Card", id: "1", title: "x" }, { __typename: "Card", id: "2", title: "y" }] });
    expect(listener).toHaveBeenCalledTimes(1);
    h.rollback();
    expect(listener).toHaveBeenCalledTimes(2);
  });

  it("commit keeps the value until the echo arrives, then the server state takes over", () => {
    const { store, server, send } = pair();
    const handle = store.optimistic("w", { upserts: [{ __typename: "Card", id: "1", title: "saved" }] });
    handle.commit();
    expect(handle.status).toBe("committed");
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("saved"); // no flicker back to "card1"
    send(event("e.2", [card("1", { title: "saved (normalized)", assignee: "10", creator: "11", labels: ["100"], comments: ["m1"] })]));
    expect(handle.status).toBe("settled");
    expect(store.state).toEqual(server.state);
  });

  it("drops the layer at commit when the echo came first", () => {
    const { store, server, send } = pair();
    const handle = store.optimistic("w", { upserts: [{ __typename: "Card", id: "1", title: "saved" }] });
    send(event("e.2", [card("1", { title: "saved", assignee: "10", creator: "11", labels: ["100"], comments: ["m1"] })]));
    expect(handle.status).toBe("pending");
    handle.commit();
    expect(handle.status).toBe("settled");
    expect(store.state).toEqual(server.state);
  });

  it("settles after settleMs without an echo", () => {
    vi.useFakeTimers();
    try {
      const { store, server } = pair();
      const handle = store.optimistic("w", { upserts: [{ __typename: "Card", id: "1", title: "never echoed" }] }, { settleMs: 500 });
      handle.commit();
      vi.advanceTimersByTime(499);
      expect(store.state?.columns[0]?.cards[0]?.title).toBe("never echoed");
      vi.advanceTimersByTime(1);
      expect(handle.status).toBe("settled");
      expect(store.state).toEqual(server.state);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("optimistic creates and temporary ids", () => {
  it("inserts a temp record, merges concurrent server changes to the list, and maps the temp id on commit", () => {
    const { store, server, send } = pair();
    const tmp = store.tempId();
    expect(tmp).not.toBe(store.tempId());
    const handle = store.optimistic("create", {
      upserts: [{ __typename: "Card", id: tmp, title: "new card", assignee: "10", creator: "10", labels: ["101"], comments: [] }],
      insertRefs: [{ type: "Column", id: "c2", field: "cards", ref: tmp }],
    });
    expect(titles(store.state)[1]).toEqual(["3:card3", `${tmp}:new card`]);
    expect(store.state?.columns[1]?.cards[1]?.labels[0]?.name).toBe("feature");
    // another user adds card 50 to the same column before our echo
    send(event("e.2", [card("50", { title: "theirs" }), column("c2", ["50", "3"])]));
    expect(titles(store.state)[1]).toEqual(["50:theirs", "3:card3", `${tmp}:new card`]);
    // the mutation answered: the card is 42
    handle.commit({ [tmp]: "42" });
    expect(store.resolveId(tmp)).toBe("42");
    expect(titles(store.state)[1]).toEqual(["50:theirs", "3:card3", "42:new card"]);
    expect(store.getRecord("Card", tmp)).toBeUndefined();
    // the echo: the column lists 42 and the card arrives
    send(event("e.3", [card("42", { title: "new card", assignee: "10", creator: "10", labels: ["101"] }), column("c2", ["50", "3", "42"])]));
    expect(handle.status).toBe("settled");
    expect(store.state).toEqual(server.state);
    expect(titles(store.state)[1]).toEqual(["50:theirs", "3:card3", "42:new card"]);
  });

  it("rolls back a failed create exactly", () => {
    const { store, server, send } = pair();
    const tmp = store.tempId();
    const handle = store.optimistic("create", {
      upserts: [{ __typename: "Card", id: tmp, title: "doomed" }],
      insertRefs: [{ type: "Column", id: "c1", field: "cards", ref: tmp, index: 0 }],
    });
    expect(titles(store.state)[0]?.[0]).toBe(`${tmp}:doomed`);
    send(event("e.2", [column("c1", ["2", "1"])]));
    handle.rollback();
    expect(store.state).toEqual(server.state);
    expect(titles(store.state)[0]).toEqual(["2:card2", "1:card1"]);
  });
});

describe("optimistic deletes", () => {
  it("hides the record everywhere, and a rollback restores it at its place in every parent", () => {
    const { store, server } = pair();
    const before = store.state;
    // label 100 is held by the board and by cards 1 and 2
    const handle = store.optimistic("del", { deletes: [{ type: "Label", id: "100" }] });
    expect(store.state?.labels.map((l) => l.id)).toEqual(["101"]);
    expect(store.state?.columns[0]?.cards[1]?.labels.map((l) => l.id)).toEqual(["101"]);
    handle.rollback();
    expect(store.state).toEqual(server.state);
    expect(store.state?.labels.map((l) => l.id)).toEqual(["100", "101"]);
    expect(store.state?.columns[0]?.cards[1]?.labels.map((l) => l.id)).toEqual(["100", "101"]);
    // identities come back too where nothing else changed? (new objects are fine, content is exact)
    expect(store.state?.settings).toBe(before?.settings);
  });

  it("a server delete echo after a committed optimistic delete is harmless", () => {
    const { store, server, send } = pair();
    const handle = store.optimistic("del", {
      deletes: [{ type: "Card", id: "2" }],
      removeRefs: [{ type: "Column", id: "c1", field: "cards", ref: "2" }],
    });
    handle.commit();
    expect(titles(store.state)[0]).toEqual(["1:card1"]);
    send(event("e.2", [column("c1", ["1"])], [{ type: "Card", id: "2" }]));
    send(event("e.3", [], [{ type: "Card", id: "2" }]));
    expect(handle.status).toBe("settled");
    expect(store.state).toEqual(server.state);
    expect(titles(store.state)[0]).toEqual(["1:card1"]);
  });

  it("removeRefs nulls a single reference", () => {
    const { store } = pair();
    store.optimistic("unassign", { removeRefs: [{ type: "Card", id: "1", field: "assignee", ref: "10" }] });
    expect(store.state?.columns[0]?.cards[0]?.assignee).toBeNull();
  });
});

describe("layers and resets", () => {
  it("a reset snapshot keeps pending layers on top of the new server state", () => {
    const { store, server, send } = pair();
    const handle = store.optimistic("w", { upserts: [{ __typename: "Card", id: "3", title: "mine" }] });
    const records = smallBoard().map((r) => (r.__typename === "Card" && r.id === "1" ? { ...r, title: "reset value" } : r));
    send(snapshot("e2.1", records));
    expect(titles(store.state)).toEqual([["1:reset value", "2:card2"], ["3:mine"]]);
    handle.rollback();
    expect(store.state).toEqual(server.state);
  });
});

describe("writes confirmed at their commit's position", () => {
  let server: TestServer;
  let connection: Connection;
  const QUERY = "subscription Board($boardId: ID!, $since: String) { boardChannel(boardId: $boardId, since: $since) { cursor } }";
  const SAVE = "mutation Save($id: ID!, $title: String) { boardChannelSaveCard(boardId: \"1\", id: $id, data: { title: $title }) { ok cursor } }";

  beforeEach(async () => {
    server = await TestServer.start();
    connection = new Connection({ url: server.url, webSocketImpl: WebSocket, retryDelay: () => 10, idleCloseMs: 0 });
  });
  afterEach(async () => {
    connection.close();
    await server.stop();
  });

  /** A server whose mutation answers "committed at e1.<n>" and whose echo the test sends when it wants. */
  function board(): { store: ChannelStore<BoardState>; channel: () => Operation } {
    const store = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => {
      if (op.query.startsWith("subscription")) server.next(op, { data: { boardChannel: snapshot("e1.1", smallBoard()) } });
      else {
        server.next(op, { data: { boardChannelSaveCard: { ok: true, cursor: "e1.3" } } });
        server.complete(op);
      }
    };
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    const channel = (): Operation => {
      const op = server.operations.find((o) => o.query.startsWith("subscription"));
      if (op === undefined) throw new Error("no channel subscription");
      return op;
    };
    return { store, channel };
  }

  it("keeps the write until the store applied its position, even when other echoes of the record come first", async () => {
    const { store, channel } = board();
    await until(() => store.ready);
    const write = store.optimistic("rename", { upserts: [{ __typename: "Card", id: "1", title: "mine" }] });
    const result = await connection.request<{ boardChannelSaveCard: { cursor: string } }>(SAVE, { id: "1", title: "mine" });
    write.commit({}, result.boardChannelSaveCard.cursor);
    expect(write.status).toBe("committed");
    // another writer's change to the same card, committed before ours: it must not settle our write
    server.next(channel(), { data: { boardChannel: event("e1.2", [card("1", { title: "theirs" })]) } });
    await until(() => store.cursor === "e1.2");
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("mine");
    expect(write.status).toBe("committed");
    // the delayed echo of our own commit
    server.next(channel(), { data: { boardChannel: event("e1.3", [card("1", { title: "mine" })]) } });
    await expect(write.settled).resolves.toBe("settled");
    expect(store.cursor).toBe("e1.3");
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("mine");
    expect(store.getServerRecord("Card", "1")?.["title"]).toBe("mine");
  });

  it("settles at once when the store is already past the position", async () => {
    const { store, channel } = board();
    await until(() => store.ready);
    const write = store.optimistic("rename", { upserts: [{ __typename: "Card", id: "1", title: "mine" }] });
    server.next(channel(), { data: { boardChannel: event("e1.3", [card("1", { title: "mine" })]) } });
    await until(() => store.cursor === "e1.3");
    write.commit({}, "e1.3");
    expect(write.status).toBe("settled");
  });

  it("reports a write whose echo never comes, and shows the server state again", async () => {
    const { store } = board();
    await until(() => store.ready);
    const write = store.optimistic("rename", { upserts: [{ __typename: "Card", id: "1", title: "mine" }] }, { echoTimeoutMs: 20 });
    const result = await connection.request<{ boardChannelSaveCard: { cursor: string } }>(SAVE, { id: "1", title: "mine" });
    write.commit({}, result.boardChannelSaveCard.cursor);
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("mine");
    await expect(write.settled).resolves.toBe("unconfirmed");
    expect(write.status).toBe("unconfirmed");
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("card1");
  });

  it("settles when a reset of a new epoch replaced the state", () => {
    const { store, server: reference, send } = pair();
    const write = store.optimistic("rename", { upserts: [{ __typename: "Card", id: "1", title: "mine" }] });
    write.commit({}, "e.9");
    send(snapshot("f.1", smallBoard()));
    expect(write.status).toBe("settled");
    expect(store.state).toEqual(reference.state);
  });
});
