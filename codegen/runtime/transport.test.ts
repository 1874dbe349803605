import WebSocket from "ws";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ErrorCodes, RxGraphQLError } from "./errors.js";
import { ChannelStore, feedOf } from "./store.js";
import { board, boardModel, card, column, event, smallBoard, snapshot } from "./testing/board.js";
import type { BoardState } from "./testing/board.js";
import { sleep, TestServer, until } from "./testing/server.js";
import type { Operation } from "./testing/server.js";
import { Connection, fullJitterBackoff } from "./transport.js";
import type { ConnectionOptions, ConnectionStatus } from "./transport.js";

const QUERY = "subscription Board($boardId: ID!, $since: String) { boardChannel(boardId: $boardId, since: $since) { cursor reset ready records { __typename } deleted { type id } } }";

let server: TestServer;
const connections: Connection[] = [];

function connect(options: Partial<ConnectionOptions> = {}): Connection {
  const connection = new Connection({
    url: server.url,
    webSocketImpl: WebSocket,
    retryDelay: () => 10,
    idleCloseMs: 0,
    ...options,
  });
  connections.push(connection);
  return connection;
}

const data = (payload: unknown) => ({ data: { boardChannel: payload } });

beforeEach(async () => {
  server = await TestServer.start();
});

afterEach(async () => {
  for (const c of connections.splice(0)) c.close();
  await server.stop();
});

describe("connection", () => {
  it("authenticates with the token in connection_init and reports its status", async () => {
    const connection = connect({ token: "abc123" });
    const statuses: ConnectionStatus[] = [];
    connection.status.subscribe((s) => statuses.push(s));
    expect(connection.status.value).toBe("closed"); // lazy: nothing to do yet
    const store = new ChannelStore<BoardState>(boardModel);
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => connection.status.value === "connected");
    expect(server.messages("connection_init")[0]?.message.payload).toEqual({ authorization: "Token abc123" });
    expect(statuses).toEqual(["connecting", "connected"]);
  });

  it("reads an async token getter at every connection; no token sends an empty payload", async () => {
    let n = 0;
    const connection = connect({ token: async () => `t${++n}` });
    connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    await until(() => server.activeOperations().length === 1);
    server.dropAll();
    await until(() => server.messages("connection_init").length === 2 && server.activeOperations().length === 1);
    expect(server.messages("connection_init").map((r) => r.message.payload)).toEqual([
      { authorization: "Token t1" },
      { authorization: "Token t2" },
    ]);
    const anonymous = connect({ token: null });
    await expect(
      (async () => {
        const p = anonymous.request("{ ping }");
        await until(() => server.operations.some((op) => op.query === "{ ping }"));
        const op = server.operations.find((o) => o.query === "{ ping }") as Operation;
        server.next(op, { data: { ping: "pong" } });
        server.complete(op);
        return p;
      })(),
    ).resolves.toEqual({ ping: "pong" });
    expect(server.messages("connection_init")[2]?.message.payload).toEqual({});
  });

  it("answers server pings", async () => {
    const connection = connect();
    connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    await until(() => connection.status.value === "connected");
    server.ping();
    await until(() => server.messages("pong").length === 1);
  });

  it("terminates and replaces a socket whose pings go unanswered", async () => {
    server.answerPings = false;
    const connection = connect({ keepAliveMs: 30, pongTimeoutMs: 40 });
    connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    await until(() => server.connections >= 2, 3000, "a second socket");
    expect(server.messages("ping").length).toBeGreaterThan(0);
    server.answerPings = true;
    await until(() => connection.status.value === "connected");
  });
});

describe("channels", () => {
  it("feeds the store, then resumes with since = last cursor after a reconnection", async () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => {
      if (op.variables["since"] === undefined) {
        server.next(op, data(snapshot("e1.1", smallBoard())));
        server.next(op, data(event("e1.2", [card("1", { title: "live" })])));
      } else {
        server.next(op, data(event("e1.3", [card("2", { title: "missed" })])));
      }
    };
    const statuses: ConnectionStatus[] = [];
    connection.status.subscribe((s) => statuses.push(s));
    const subscription = connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.cursor === "e1.2");
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("live");
    expect(server.operations[0]?.variables).toEqual({ boardId: "1" });

    server.dropAll();
    await until(() => store.cursor === "e1.3");
    expect(server.operations[1]?.variables).toEqual({ boardId: "1", since: "e1.2" });
    expect(store.state?.columns[0]?.cards[1]?.title).toBe("missed");
    expect(store.state?.columns[0]?.cards[0]?.title).toBe("live");
    expect(statuses).toEqual(["connecting", "connected", "reconnecting", "connected"]);
    expect(subscription.active).toBe(true);

    // and again: the payload is re-read at every send
    server.dropAll();
    await until(() => server.operations.length === 3);
    expect(server.operations[2]?.variables).toEqual({ boardId: "1", since: "e1.3" });
  });

  it("drops a snapshot cut off by a disconnection and resumes from the last complete state", async () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel);
    let round = 0;
    server.onSubscribe = (op) => {
      round++;
      if (round === 1) server.next(op, data(snapshot("e1.4", smallBoard())));
      if (round === 2) {
        server.next(op, data(event("", [board("1", { name: "half" })], [], { reset: true, ready: false })));
        setTimeout(() => server.dropAll(), 30);
      }
      if (round === 3) server.next(op, data(event("e1.5", [card("3", { title: "after" })])));
    };
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.ready);
    const before = store.state;
    server.dropAll();
    await until(() => round === 2);
    await until(() => !store.ready);
    expect(store.state).toBe(before);
    await until(() => store.cursor === "e1.5");
    expect(server.operations[1]?.variables["since"]).toBe("e1.4");
    expect(server.operations[2]?.variables["since"]).toBe("e1.4");
    expect(store.state?.name).toBe("board1");
    expect(store.state?.columns[1]?.cards[0]?.title).toBe("after");
  });

  it("surfaces a GraphQL error (FORBIDDEN) and ends the subscription", async () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => {
      server.next(op, { data: null, errors: [{ message: "Permission denied", extensions: { code: "FORBIDDEN" } }] });
      server.complete(op);
    };
    const subscription = connection.subscribeChannel(store, QUERY, { boardId: "9" });
    await until(() => store.error !== null);
    expect(store.error).toBeInstanceOf(RxGraphQLError);
    expect(store.error?.code).toBe("FORBIDDEN");
    expect(store.error?.message).toBe("Permission denied");
    await until(() => !subscription.active);
    expect(store.state).toBeNull();
  });

  it("reports a fatal close code as an error and stops", async () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel);
    server.onInit = () => ({ close: 4400, reason: "Bad request" });
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.error !== null);
    expect(store.error?.code).toBe(ErrorCodes.CONNECTION_CLOSED);
    expect(store.error?.closeCode).toBe(4400);
    expect(connection.status.value).toBe("closed");
    expect(connection.lastClose.value).toEqual({ code: 4400, reason: "Bad request" });
  });

  it("keeps retrying after a rejected token (4403), reading the token again", async () => {
    const tokens = ["bad", "good"];
    const connection = connect({ token: () => tokens.shift() ?? "good" });
    server.onInit = (payload) =>
      (payload as { authorization?: string }).authorization === "Token good" ? "ack" : { close: 4403, reason: "Forbidden" };
    const store = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => server.next(op, data(snapshot("e.1", smallBoard())));
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.ready);
    expect(connection.lastClose.value?.code).toBe(4403);
    expect(store.error).toBeNull();
  });

  it("multiplexes several channels over one socket", async () => {
    const connection = connect();
    const a = new ChannelStore<BoardState>(boardModel);
    const b = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => {
      const id = String(op.variables["boardId"]);
      server.next(op, data(snapshot(`e.${id}`, [board(id, { name: `board ${id}`, columns: ["c"] }), column("c", [])])));
    };
    const subA = connection.subscribeChannel(a, QUERY, { boardId: "1" });
    connection.subscribeChannel(b, QUERY, { boardId: "2" });
    await until(() => a.ready && b.ready);
    expect(a.state?.name).toBe("board 1");
    expect(b.state?.name).toBe("board 2");
    expect(server.connections).toBe(1);
    expect(connection.activeChannels).toBe(2);
    subA.unsubscribe();
    subA.unsubscribe();
    await until(() => server.activeOperations().length === 1);
    expect(connection.activeChannels).toBe(1);
  });

  it("unsubscribing before the socket is up sends nothing", async () => {
    const connection = connect();
    const sub = connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    sub.unsubscribe();
    const sub2 = connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    await until(() => server.operations.length === 1);
    // graphql-ws sends queued subscribes in order: had the first one been sent, it would be here already
    expect(server.operations).toHaveLength(1);
    expect(server.operations[0]?.variables).toEqual({ boardId: "1" });
    expect(server.connections).toBe(1);
    sub2.unsubscribe();
    // the client's status, not the server's socket count: the server may see the close first
    await until(() => connection.status.value === "closed", 3000, "the idle socket to close");
    await until(() => server.openSockets === 0, 3000, "the server to see the close");
  });
});

describe("requests", () => {
  function answer(result: unknown): void {
    server.onSubscribe = (op) => {
      server.next(op, result);
      server.complete(op);
    };
  }

  it("resolves with data", async () => {
    const connection = connect();
    answer({ data: { boardChannelMove: { ok: true } } });
    await expect(connection.request("mutation { boardChannelMove { ok } }", { a: 1 })).resolves.toEqual({
      boardChannelMove: { ok: true },
    });
    expect(server.operations[0]?.variables).toEqual({ a: 1 });
    expect(connection.pendingRequests).toBe(0);
  });

  it("rejects with the GraphQL error", async () => {
    const connection = connect();
    answer({ data: null, errors: [{ message: "nope", extensions: { code: "FORBIDDEN" } }] });
    await expect(connection.request("mutation { x }")).rejects.toMatchObject({ code: "FORBIDDEN", message: "nope" });
  });

  it("rejects after the timeout, and completes the operation on the server", async () => {
    const connection = connect();
    const timers = vi.spyOn(globalThis, "setTimeout");
    await expect(connection.request("query { slow }", {}, { timeoutMs: 80 })).rejects.toMatchObject({
      code: ErrorCodes.TIMEOUT,
      message: "Request timed out after 80 ms",
    });
    expect(timers.mock.calls.some(([, delay]) => delay === 80)).toBe(true); // the request's own timer, not another
    timers.mockRestore();
    expect(connection.pendingRequests).toBe(0);
    await until(() => server.operations[0]?.completedByClient === true);
  });

  it("rejects pending requests when the socket drops, and does not re-send them after reconnecting", async () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel); // keeps the connection wanted
    server.onSubscribe = (op) => {
      if (op.query === QUERY) server.next(op, data(snapshot("e.1", smallBoard())));
    };
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.ready);
    const first = connection.request("mutation { a }");
    const second = connection.request("mutation { b }");
    await until(() => server.operations.length === 3);
    server.dropAll();
    await expect(first).rejects.toMatchObject({ code: ErrorCodes.DISCONNECTED });
    await expect(second).rejects.toMatchObject({ code: ErrorCodes.DISCONNECTED });
    expect(connection.pendingRequests).toBe(0);
    await until(() => server.connections === 2 && connection.status.value === "connected");
    await until(() => server.operations.length === 4); // only the channel is re-subscribed
    await sleep(50);
    expect(server.operations.map((op) => op.query.slice(0, 14))).toEqual([
      QUERY.slice(0, 14),
      "mutation { a }",
      "mutation { b }",
      QUERY.slice(0, 14),
    ]);
  });

  it("rejects pending and new requests after close()", async () => {
    const connection = connect();
    const pending = connection.request("query { q }");
    await until(() => server.operations.length === 1);
    connection.close();
    await expect(pending).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    await expect(connection.request("query { q }")).rejects.toMatchObject({ code: ErrorCodes.CLOSED });
    expect(connection.status.value).toBe("closed");
  });
});

describe("backoff", () => {
  it("full jitter stays within [0, min(cap, base * 2^attempt))", () => {
    const high = fullJitterBackoff(100, 1000, () => 0.999999);
    expect([0, 1, 2, 3, 4, 5].map(high)).toEqual([99, 199, 399, 799, 999, 999]);
    const low = fullJitterBackoff(100, 1000, () => 0);
    expect([0, 3, 9].map(low)).toEqual([0, 0, 0]);
    const samples = Array.from({ length: 200 }, () => fullJitterBackoff(100, 1000)(2));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(400);
    expect(new Set(samples).size).toBeGreaterThan(20);
  });

  it("grows while sockets die before connection_ack, and resets only after an ack", async () => {
    const attempts: number[] = [];
    const connection = connect({
      retryDelay: (attempt) => {
        attempts.push(attempt);
        return 5;
      },
    });
    let mode: "drop-before-ack" | "drop-after-ack" = "drop-before-ack";
    server.onInit = () => (mode === "drop-before-ack" ? "terminate" : "ack");
    server.onSubscribe = () => {
      if (mode === "drop-after-ack") setTimeout(() => server.dropAll(), 5);
    };
    connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    await until(() => attempts.length >= 4);
    mode = "drop-after-ack";
    const seen = attempts.length;
    await until(() => attempts.length >= seen + 4);
    const before = attempts.slice(0, seen);
    const after = attempts.slice(seen);
    // socket opened (a 50 ms hot loop in the predecessor): still growing until an ack arrives
    expect(before).toEqual(before.map((_, i) => i));
    expect(after.slice(1).every((a) => a === 0)).toBe(true);
    expect(server.messages("connection_init").length).toBeGreaterThanOrEqual(seen + 3);
  });
});

describe("eager connections", () => {
  it("with lazy: false, connects at once and keeps reconnecting without operations", async () => {
    const connection = connect({ lazy: false });
    expect(connection.status.value).toBe("connecting");
    await until(() => connection.status.value === "connected");
    server.dropAll();
    await until(() => connection.status.value === "reconnecting");
    await until(() => connection.status.value === "connected" && server.connections === 2);
  });
});

describe("one stream per store", () => {
  it("two readers of one store share one server subscription, reference-counted", async () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => {
      // a snapshot in two batches with a live event of the same subscription between them
      server.next(op, data(event("", smallBoard().slice(0, 6), [], { reset: true, ready: false })));
      server.next(op, data(event("e1.5", smallBoard().slice(6), [], { ready: true })));
      server.next(op, data(event("e1.6", [card("1", { title: "live" })])));
    };
    const first = connection.subscribeChannel(store, QUERY, { boardId: "1" });
    const second = connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => store.cursor === "e1.6");
    expect(server.operations).toHaveLength(1);
    expect(connection.activeChannels).toBe(1);
    const fresh = new ChannelStore<BoardState>(boardModel);
    feedOf(fresh).apply(snapshot("e1.5", smallBoard()));
    feedOf(fresh).apply(event("e1.6", [card("1", { title: "live" })]));
    expect(store.state).toEqual(fresh.state);
    expect(store.status).toBe("connected");

    first.unsubscribe();
    expect(first.active).toBe(false);
    expect(second.active).toBe(true);
    expect(server.activeOperations()).toHaveLength(1);
    server.next(server.operations[0] as Operation, data(event("e1.7", [card("2", { title: "still live" })])));
    await until(() => store.cursor === "e1.7");

    second.unsubscribe();
    await until(() => server.operations[0]?.completedByClient === true, 3000, "the subscription to end");
    expect(connection.activeChannels).toBe(0);
    expect(store.status).toBe("closed");
  });

  it("refuses to feed one store from two different streams", () => {
    const connection = connect();
    const store = new ChannelStore<BoardState>(boardModel);
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    expect(() => connection.subscribeChannel(store, QUERY, { boardId: "2" })).toThrow(RxGraphQLError);
    expect(() => connect().subscribeChannel(store, QUERY, { boardId: "1" })).toThrow(RxGraphQLError);
  });

  it("randomized: two subscriptions per store, snapshots in batches, live events and drops, converge", async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const random = mulberry32(seed);
      const truth = new Map<string, ReturnType<typeof card>>();
      for (const r of smallBoard()) truth.set(`${r.__typename}:${r.id}`, r);
      let version = 1;
      const serve = (op: Operation): void => {
        const records = [...truth.values()];
        const cut = Math.floor(random() * records.length);
        // (a server buffers its live patches while a snapshot streams: none between the batches)
        server.next(op, data(event("", records.slice(0, cut), [], { reset: true, ready: false })));
        server.next(op, data(event(`e${seed}.${version}`, records.slice(cut), [], { ready: true })));
      };
      const liveEdit = (op: Operation): void => {
        version++;
        const id = String(1 + Math.floor(random() * 3));
        const changed = card(id, { ...truth.get(`Card:${id}`), title: `t${version}` });
        truth.set(`Card:${id}`, changed);
        server.next(op, data(event(`e${seed}.${version}`, [changed])));
      };
      server.onSubscribe = serve;
      const connection = connect();
      const store = new ChannelStore<BoardState>(boardModel);
      const a = connection.subscribeChannel(store, QUERY, { boardId: "1" });
      const b = connection.subscribeChannel(store, QUERY, { boardId: "1" });
      for (let step = 0; step < 12; step++) {
        await until(() => server.activeOperations().length === 1 && store.ready, 3000, "a live subscription");
        const op = server.activeOperations()[0] as Operation;
        if (random() < 0.25) {
          server.dropAll();
          await until(() => server.activeOperations().length === 1, 3000, "the resubscription");
        } else {
          liveEdit(op);
        }
      }
      const last = `e${seed}.${version}`;
      await until(() => store.cursor === last && store.ready, 3000, "the last event");
      expect(server.activeOperations()).toHaveLength(1);
      const fresh = new ChannelStore<BoardState>(boardModel);
      feedOf(fresh).apply(snapshot(last, [...truth.values()]));
      expect(store.state).toEqual(fresh.state);
      a.unsubscribe();
      b.unsubscribe();
      connection.close();
    }
  });
});

describe("auth lifecycle", () => {
  it("says unauthorized with the close code after 4403, then re-authenticates with a fresh token and resumes", async () => {
    const asked: boolean[] = [];
    let token = "stale";
    const connection = connect({
      token: ({ rejected }) => {
        asked.push(rejected);
        return token;
      },
    });
    server.onInit = (payload) =>
      (payload as { authorization?: string }).authorization === "Token fresh" ? "ack" : { close: 4403, reason: "Forbidden" };
    const store = new ChannelStore<BoardState>(boardModel);
    server.onSubscribe = (op) => {
      if (op.variables["since"] === undefined) server.next(op, data(snapshot("e1.1", smallBoard())));
      else server.next(op, data(event("e1.2", [card("1", { title: "after re-auth" })])));
    };
    connection.subscribeChannel(store, QUERY, { boardId: "1" });
    await until(() => connection.status.value === "unauthorized", 3000, "unauthorized");
    expect(store.status).toBe("unauthorized");
    expect(store.error?.code).toBe(ErrorCodes.UNAUTHORIZED);
    expect(store.error?.closeCode).toBe(4403);
    expect(connection.lastClose.value?.code).toBe(4403);
    // retried, still unauthorized (not "reconnecting"), and the provider is told the token was rejected
    await until(() => server.messages("connection_init").length >= 2, 3000, "a retry");
    expect(asked.slice(0, 2)).toEqual([false, true]);
    expect(connection.status.value).toBe("unauthorized");

    token = "fresh";
    connection.reauthenticate();
    await until(() => connection.status.value === "connected" && store.ready, 3000, "re-authenticated");
    expect(store.error).toBeNull();
    expect(store.status).toBe("connected");

    // a token revoked while connected: the server closes with 4403, the store says so, a fresh token resumes
    await until(() => store.cursor === "e1.1");
    token = "revoked";
    server.closeAll(4403, "Forbidden");
    await until(() => store.status === "unauthorized", 3000, "unauthorized again");
    token = "fresh";
    connection.reauthenticate();
    await until(() => store.cursor === "e1.2", 3000, "the resumed stream");
    const resumed = server.operations[server.operations.length - 1];
    expect(resumed?.variables).toEqual({ boardId: "1", since: "e1.1" });
    expect(store.error).toBeNull();
  });
});

describe("close() is final", () => {
  it("cancels a reconnection waiting for its backoff: no socket, no credentials", async () => {
    let waits = 0;
    const connection = connect({
      token: "secret",
      lazy: false,
      retryDelay: () => {
        waits++;
        return 60_000;
      },
    });
    connection.subscribeChannel(new ChannelStore(boardModel), QUERY, { boardId: "1" });
    await until(() => server.activeOperations().length === 1);
    server.dropAll();
    await until(() => waits === 1 && connection.status.value === "reconnecting", 3000, "the backoff");
    connection.close();
    // the waiting attempt ends on the closed stand-in socket instead of the network
    await until(() => connection.lastClose.value?.reason === "Connection closed", 3000, "the attempt to end");
    expect(server.connections).toBe(1);
    expect(server.messages("connection_init")).toHaveLength(1);
    expect(connection.status.value).toBe("closed");
  });
});

describe("responses", () => {
  it("rejects a response with neither data nor errors with the library's error", async () => {
    const connection = connect();
    server.onSubscribe = (op) => {
      server.next(op, {});
      server.complete(op);
    };
    const failure = await connection.request("mutation { boardChannelMove { ok } }").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RxGraphQLError);
    expect((failure as RxGraphQLError).code).toBe(ErrorCodes.BAD_RESPONSE);
  });
});

/** A small seeded random generator (deterministic runs). */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
