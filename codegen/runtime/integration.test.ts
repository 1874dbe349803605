/**
 * The runtime against graphql-ws's own server (`useServer` from graphql-ws/use/ws) executing a graphql-js
 * schema shaped like rxgraphql's: a channel subscription with `since`, flat records in a union, deletes.
 */
import { buildSchema, GraphQLError } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import WebSocket, { WebSocketServer } from "ws";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseCursor } from "./cursor.js";
import type { ChannelEvent, ChannelModel, FlatRecord, RecordRef } from "./model.js";
import { ChannelStore } from "./store.js";
import { until } from "./testing/server.js";
import { Connection } from "./transport.js";

const schema = buildSchema(`
  type Query { ping: String }
  type Mutation { renameCard(id: ID!, title: String!): Boolean }
  type Board { id: ID! name: String! columns: [ID!]! }
  type Column { id: ID! name: String! cards: [ID!]! }
  type Card { id: ID! title: String! }
  union BoardChannelRecord = Board | Column | Card
  type RecordRef { type: String! id: ID! }
  type BoardChannelEvent {
    cursor: String!
    reset: Boolean!
    ready: Boolean!
    records: [BoardChannelRecord!]!
    deleted: [RecordRef!]!
  }
  type Subscription { boardChannel(boardId: ID!, since: String): BoardChannelEvent! }
`);

const QUERY = `subscription Board($boardId: ID!, $since: String) {
  boardChannel(boardId: $boardId, since: $since) {
    cursor reset ready
    records {
      __typename
      ... on Board { id name columns }
      ... on Column { id name cards }
      ... on Card { id title }
    }
    deleted { type id }
  }
}`;

const model: ChannelModel = {
  field: "boardChannel",
  root: "Board",
  types: {
    Board: { refs: { columns: { type: "Column", many: true } } },
    Column: { refs: { cards: { type: "Card", many: true } } },
    Card: { refs: {} },
  },
};

interface CardState {
  id: string;
  title: string;
}
interface BoardState {
  id: string;
  name: string;
  columns: { id: string; name: string; cards: CardState[] }[];
}

/** The server side: the board's records, a version counter, a log of patches and live listeners. */
class Feed {
  epoch = "ep1";
  version = 1;
  records = new Map<string, FlatRecord>([
    ["Board:1", { __typename: "Board", id: "1", name: "Main", columns: ["c1"] }],
    ["Column:c1", { __typename: "Column", id: "c1", name: "Todo", cards: ["1", "2"] }],
    ["Card:1", { __typename: "Card", id: "1", title: "one" }],
    ["Card:2", { __typename: "Card", id: "2", title: "two" }],
  ]);
  log: { version: number; records: FlatRecord[]; deleted: RecordRef[] }[] = [];
  listeners = new Set<(e: ChannelEvent) => void>();
  sinceSeen: (string | null | undefined)[] = [];

  publish(records: FlatRecord[], deleted: RecordRef[] = []): void {
    this.version += 1;
    for (const r of records) this.records.set(`${r.__typename}:${r.id}`, r);
    for (const d of deleted) this.records.delete(`${d.type}:${d.id}`);
    this.log.push({ version: this.version, records, deleted });
    const e: ChannelEvent = { cursor: this.cursor, reset: false, ready: true, records, deleted };
    for (const listener of this.listeners) listener(e);
  }

  get cursor(): string {
    return `${this.epoch}.${this.version}`;
  }

  catchUp(since: string | null | undefined): ChannelEvent[] {
    const parsed = parseCursor(since);
    if (parsed === null || parsed.epoch !== this.epoch) {
      const all = [...this.records.values()];
      // two batches, as a streamed snapshot
      return [
        { cursor: "", reset: true, ready: false, records: all.slice(0, 2), deleted: [] },
        { cursor: this.cursor, reset: false, ready: true, records: all.slice(2), deleted: [] },
      ];
    }
    const missed = this.log.filter((p) => p.version > parsed.version);
    return [
      {
        cursor: this.cursor,
        reset: false,
        ready: true,
        records: missed.flatMap((p) => p.records),
        deleted: missed.flatMap((p) => p.deleted),
      },
    ];
  }
}

let wss: WebSocketServer;
let feed: Feed;
let url: string;
let connection: Connection;

beforeEach(async () => {
  feed = new Feed();
  wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const address = wss.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  url = `ws://127.0.0.1:${address.port}/graphql`;
  useServer(
    {
      schema,
      onConnect: (ctx) => (ctx.connectionParams?.["authorization"] === "Token secret" ? true : false),
      roots: {
        mutation: {
          renameCard: ({ id, title }: { id: string; title: string }) => {
            feed.publish([{ __typename: "Card", id, title }]);
            return true;
          },
        },
        subscription: {
          boardChannel: async function* boardChannel({ boardId, since }: { boardId: string; since?: string | null }) {
            if (boardId !== "1") {
              throw new GraphQLError("Permission denied", { extensions: { code: "FORBIDDEN" } });
            }
            feed.sinceSeen.push(since);
            const queue: ChannelEvent[] = feed.catchUp(since);
            let wake: (() => void) | null = null;
            const listener = (e: ChannelEvent): void => {
              queue.push(e);
              wake?.();
            };
            feed.listeners.add(listener);
            try {
              for (;;) {
                const next = queue.shift();
                if (next !== undefined) {
                  yield { boardChannel: next };
                  continue;
                }
                await new Promise<void>((resolve) => (wake = resolve));
                wake = null;
              }
            } finally {
              feed.listeners.delete(listener);
            }
          },
        },
      },
    },
    wss,
  );
  connection = new Connection({ url, token: "secret", webSocketImpl: WebSocket, retryDelay: () => 10, idleCloseMs: 0 });
});

afterEach(async () => {
  connection.close();
  for (const client of wss.clients) client.terminate();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
});

describe("against graphql-ws's server", () => {
  it("streams a snapshot, live patches, and resumes with since after the socket dies", async () => {
    const store = new ChannelStore<BoardState>(model);
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.ready);
    expect(store.state?.columns[0]?.cards.map((c) => c.title)).toEqual(["one", "two"]);
    expect(feed.sinceSeen).toEqual([undefined]);

    feed.publish([{ __typename: "Card", id: "3", title: "three" }, { __typename: "Column", id: "c1", name: "Todo", cards: ["1", "2", "3"] }]);
    await until(() => store.cursor === "ep1.2");
    const untouched = store.state?.columns[0]?.cards[0];
    expect(store.state?.columns[0]?.cards.map((c) => c.title)).toEqual(["one", "two", "three"]);

    // the socket dies; changes happen meanwhile
    for (const client of wss.clients) client.terminate();
    await until(() => connection.status.value !== "connected");
    feed.publish([{ __typename: "Column", id: "c1", name: "Todo", cards: ["1", "3"] }], [{ type: "Card", id: "2" }]);
    feed.publish([{ __typename: "Card", id: "3", title: "three!" }]);
    await until(() => store.cursor === "ep1.4");
    expect(feed.sinceSeen).toEqual([undefined, "ep1.2"]);
    expect(store.state?.columns[0]?.cards.map((c) => c.title)).toEqual(["one", "three!"]);
    expect(store.state?.columns[0]?.cards[0]).toBe(untouched);
    expect(store.getRecord("Card", "2")).toBeUndefined();
  });

  it("falls back to a full snapshot when the server cannot serve the cursor", async () => {
    const store = new ChannelStore<BoardState>(model);
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.ready);
    const before = store.state;
    feed.epoch = "ep2"; // e.g. the server's cache was rebuilt
    feed.version = 1;
    for (const client of wss.clients) client.terminate();
    await until(() => store.cursor === "ep2.1");
    expect(feed.sinceSeen).toEqual([undefined, "ep1.1"]);
    expect(store.state).toBe(before); // same content: every object kept
  });

  it("runs mutations with request() and sees their echo on the channel", async () => {
    const store = new ChannelStore<BoardState>(model);
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.ready);
    const handle = store.optimistic("rename", { upserts: [{ __typename: "Card", id: "1", title: "renamed" }] });
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("renamed");
    const result = await connection.request<{ renameCard: boolean }>(
      "mutation Rename($id: ID!, $title: String!) { renameCard(id: $id, title: $title) }",
      { id: "1", title: "renamed" },
    );
    expect(result).toEqual({ renameCard: true });
    handle.commit();
    await until(() => handle.status === "settled");
    expect(store.getServerRecord("Card", "1")?.["title"]).toBe("renamed");
  });

  it("reports FORBIDDEN from the subscription resolver", async () => {
    const store = new ChannelStore<BoardState>(model);
    const sub = connection.subscribeChannel(store, QUERY, { boardId: "2" });
    await until(() => store.error !== null);
    expect(store.error?.code).toBe("FORBIDDEN");
    await until(() => !sub.active);
  });

  it("rejects a query with a validation error", async () => {
    await expect(connection.request("{ nope }")).rejects.toMatchObject({ code: "GRAPHQL_ERROR" });
  });
});
