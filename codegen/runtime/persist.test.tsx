// @vitest-environment jsdom
import "fake-indexeddb/auto";
import WebSocket from "ws";
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { useChannel } from "./hooks.js";
import type { ChannelModel } from "./model.js";
import { IndexedDBCache, MemoryCache, persistStore } from "./persist.js";
import { ChannelStore, feedOf } from "./store.js";
import { boardModel, card, event, smallBoard, snapshot } from "./testing/board.js";
import type { BoardState } from "./testing/board.js";
import { TestServer, until } from "./testing/server.js";
import { Connection } from "./transport.js";

const versioned: ChannelModel = { ...boardModel, version: "v1" };
const QUERY = "subscription Board($boardId: ID!, $since: String) { boardChannel(boardId: $boardId, since: $since) { cursor } }";

describe("persistStore", () => {
  it("saves the server state after each change and restores it into a new store", async () => {
    const cache = new MemoryCache();
    const first = new ChannelStore<BoardState>(versioned);
    const saving = persistStore(first, { cache, key: "board:1" });
    await saving.restored;
    feedOf(first).apply(snapshot("e1.1", smallBoard()));
    feedOf(first).apply(event("e1.2", [card("1", { title: "edited" })]));
    await until(() => cache.entries.get("board:1")?.state.cursor === "e1.2");
    saving.stop();

    const reloaded = new ChannelStore<BoardState>(versioned);
    const restoring = persistStore(reloaded, { cache, key: "board:1" });
    await expect(restoring.restored).resolves.toBe(true);
    expect(reloaded.state).toEqual(first.state);
    expect(reloaded.cursor).toBe("e1.2");
    expect(reloaded.ready).toBe(true);
    // and it goes on like any store: the next event applies as a patch on the restored state
    feedOf(reloaded).apply(event("e1.3", [card("2", { title: "later" })]));
    expect(reloaded.state?.columns[0]?.cards[1]?.title).toBe("later");
    restoring.stop();
  });

  it("never saves an optimistic write nor a half-received snapshot", async () => {
    const cache = new MemoryCache();
    const store = new ChannelStore<BoardState>(versioned);
    const persistence = persistStore(store, { cache, key: "k", saveDelayMs: 0 });
    feedOf(store).apply(snapshot("e1.1", smallBoard()));
    await until(() => cache.entries.get("k")?.state.cursor === "e1.1");
    store.optimistic("w", { upserts: [{ __typename: "Card", id: "1", title: "not yet" }] });
    feedOf(store).apply(event("", [card("9")], [], { reset: true, ready: false }));
    persistence.stop();
    await persistence.flushed();
    const saved = cache.entries.get("k")?.state;
    expect(saved?.cursor).toBe("e1.1");
    expect(saved?.records.find((r) => r.__typename === "Card" && r.id === "1")?.["title"]).toBe("card1");
  });

  it("discards an entry of another schema version", async () => {
    const cache = new MemoryCache();
    const old = new ChannelStore<BoardState>({ ...boardModel, version: "v0" });
    persistStore(old, { cache, key: "k" });
    feedOf(old).apply(snapshot("e1.1", smallBoard()));
    await until(() => cache.entries.has("k"));
    const store = new ChannelStore<BoardState>(versioned);
    await expect(persistStore(store, { cache, key: "k" }).restored).resolves.toBe(false);
    expect(store.state).toBeNull();
    expect(cache.entries.has("k")).toBe(false);
  });

  it("works the same over IndexedDB", async () => {
    const cache = new IndexedDBCache("rxgraphql-test");
    const first = new ChannelStore<BoardState>(versioned);
    const saving = persistStore(first, { cache, key: "board:1" });
    feedOf(first).apply(snapshot("e1.4", smallBoard()));
    await until(() => first.cursor === "e1.4");
    saving.stop();
    await saving.flushed();
    const entry = await cache.read("board:1");
    expect(entry?.state.cursor).toBe("e1.4");
    const reloaded = new ChannelStore<BoardState>(versioned);
    await expect(persistStore(reloaded, { cache: new IndexedDBCache("rxgraphql-test"), key: "board:1" }).restored).resolves.toBe(true);
    expect(reloaded.state).toEqual(first.state);
  });
});

describe("useChannel with a persistent cache", () => {
  let server: TestServer;
  let connection: Connection;
  beforeEach(async () => {
    server = await TestServer.start();
    connection = new Connection({ url: server.url, webSocketImpl: WebSocket, retryDelay: () => 10, idleCloseMs: 0 });
  });
  afterEach(async () => {
    cleanup();
    connection.close();
    await server.stop();
  });

  function Board({ cache }: { cache: MemoryCache }) {
    const { state, cursor } = useChannel<BoardState>(connection, versioned, QUERY, { boardId: "1" }, { persist: { cache, scope: "alice" } });
    return (
      <div>
        <p data-testid="cursor">{cursor}</p>
        <h1>{state?.columns[0]?.cards.map((c) => c.title).join(",") ?? "loading"}</h1>
      </div>
    );
  }

  it("a reload renders the cached state before any event, then resumes with since", async () => {
    const cache = new MemoryCache();
    server.onSubscribe = (op) => {
      if (op.variables["since"] === undefined) server.next(op, { data: { boardChannel: snapshot("e1.1", smallBoard()) } });
    };
    const page = render(<Board cache={cache} />);
    await screen.findByText("card1,card2");
    await until(() => cache.entries.size === 1);
    page.unmount();

    // the "reload": a new component, a new store, and a server that says nothing until the test lets it
    server.onSubscribe = () => {};
    render(<Board cache={cache} />);
    await screen.findByText("card1,card2");
    expect(screen.getByTestId("cursor").textContent).toBe("e1.1");
    await until(() => server.operations.length === 2);
    const resumed = server.operations[1];
    expect(resumed?.variables).toEqual({ boardId: "1", since: "e1.1" });
    await act(async () => {
      if (resumed !== undefined) server.next(resumed, { data: { boardChannel: event("e1.2", [card("2", { title: "meanwhile" })]) } });
      await until(() => screen.getByRole("heading").textContent === "card1,meanwhile");
    });
  });
});
