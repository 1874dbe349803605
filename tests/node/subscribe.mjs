#!/usr/bin/env node
// Subscribe to a chat room channel with the graphql-ws client (graphql-transport-ws protocol)
// and print what arrives, one JSON document per line, on stdout:
//
//   {"status":"connected"}          once the server acknowledged connection_init
//   {"data":{"chatRoomChannel":...}} one line per `next` payload, exactly as received
//
// Exit codes: 0 after --events payloads were printed; 2 on a usage error, a subscription
// error, the socket closing or the timeout expiring (details as one JSON line on stderr).
//
// Usage:
//   node subscribe.mjs --url ws://127.0.0.1:PORT/graphql --token KEY --room ID --events N
//                      [--timeout-ms 20000] [--since CURSOR]

import { createClient } from "graphql-ws";
import WebSocket from "ws";

const USAGE =
  "usage: node subscribe.mjs --url ws://HOST:PORT/graphql [--token KEY] --room ID --events N " +
  "[--timeout-ms 20000] [--since CURSOR]";

const FIELDS = `cursor reset ready records { __typename ... on ChatRoom { id name participants messages } ... on Message { id text createdAt author } ... on ChatUser { id username } } deleted { type id }`;

const QUERY = `subscription Room($roomId: ID!) { chatRoomChannel(roomId: $roomId) { ${FIELDS} } }`;
const QUERY_SINCE = `subscription Room($roomId: ID!, $since: String) { chatRoomChannel(roomId: $roomId, since: $since) { ${FIELDS} } }`;

function writeLine(stream, obj) {
  stream.write(JSON.stringify(obj) + "\n");
}

function exitAfterFlush(code) {
  // Writes to pipes/files are synchronous on Linux, but wait for both streams anyway.
  let pending = 2;
  const done = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
  setTimeout(() => process.exit(code), 1000).unref();
}

function usageError(message) {
  process.stderr.write(`subscribe.mjs: ${message}\n${USAGE}\n`);
  exitAfterFlush(2);
}

function parseArgs(argv) {
  const known = new Set(["url", "token", "room", "events", "timeout-ms", "since"]);
  const opts = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "-h" || arg === "--help") return { help: true };
    if (!arg.startsWith("--")) throw new Error(`unexpected argument: ${arg}`);
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      if (i + 1 >= argv.length) throw new Error(`missing value for --${name}`);
      i += 1;
      value = argv[i];
    }
    if (!known.has(name)) throw new Error(`unknown option: --${name}`);
    opts[name] = value;
  }
  for (const required of ["url", "room", "events"]) {
    if (opts[required] === undefined || opts[required] === "") {
      throw new Error(`--${required} is required`);
    }
  }
  if (!/^wss?:\/\//.test(opts.url)) throw new Error(`--url must be a ws:// or wss:// URL: ${opts.url}`);
  const events = Number(opts.events);
  if (!Number.isInteger(events) || events < 1) {
    throw new Error(`--events must be a positive integer: ${opts.events}`);
  }
  const timeoutMs = opts["timeout-ms"] === undefined ? 20000 : Number(opts["timeout-ms"]);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    throw new Error(`--timeout-ms must be a positive integer: ${opts["timeout-ms"]}`);
  }
  return {
    url: opts.url,
    token: opts.token,
    room: opts.room,
    events,
    timeoutMs,
    since: opts.since,
  };
}

function describe(err) {
  if (err === null || err === undefined) return null;
  if (Array.isArray(err)) return { kind: "graphql", errors: err };
  if (typeof err === "object" && typeof err.code === "number" && "reason" in err) {
    return { kind: "closed", code: err.code, reason: String(err.reason ?? ""), wasClean: !!err.wasClean };
  }
  if (err instanceof Error) return { kind: "error", message: err.message };
  if (typeof err === "object" && (err.message || err.error)) {
    // ws ErrorEvent
    return { kind: "error", message: String(err.message || err.error?.message || err.error) };
  }
  return { kind: "error", message: String(err) };
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    usageError(err.message);
    return;
  }
  if (args.help) {
    process.stdout.write(USAGE + "\n");
    return;
  }

  let finished = false;
  let received = 0;
  let socketError = null;
  let unsubscribe = () => {};

  const client = createClient({
    url: args.url,
    webSocketImpl: WebSocket,
    connectionParams: args.token ? { authorization: "Token " + args.token } : {},
    lazy: true,
    retryAttempts: 0,
    shouldRetry: () => false,
    on: {
      connected: () => {
        if (!finished) writeLine(process.stdout, { status: "connected" });
      },
      error: (err) => {
        socketError = describe(err);
      },
      closed: (event) => {
        if (!finished) fail(describe(event));
      },
    },
  });

  const timer = setTimeout(() => {
    fail({ kind: "timeout", timeoutMs: args.timeoutMs });
  }, args.timeoutMs);

  function finish(code) {
    finished = true;
    process.exitCode = code;
    clearTimeout(timer);
    try {
      unsubscribe();
    } catch {
      // already gone
    }
    // Close the socket politely, but never wait long for it (a socket stuck in CONNECTING
    // would otherwise keep dispose() pending).
    const disposed = Promise.resolve()
      .then(() => client.dispose())
      .catch(() => {});
    const grace = new Promise((resolve) => setTimeout(resolve, 500));
    Promise.race([disposed, grace]).finally(() => exitAfterFlush(code));
  }

  function fail(error) {
    if (finished) return;
    const report = { error, events: received };
    if (socketError) report.socketError = socketError;
    writeLine(process.stderr, report);
    finish(2);
  }

  const variables = { roomId: args.room };
  if (args.since !== undefined) variables.since = args.since;

  unsubscribe = client.subscribe(
    { query: args.since !== undefined ? QUERY_SINCE : QUERY, variables },
    {
      next: (payload) => {
        if (finished) return;
        received += 1;
        writeLine(process.stdout, payload);
        if (received >= args.events) finish(0);
      },
      error: (err) => fail(describe(err)),
      complete: () => {
        if (!finished) fail({ kind: "complete", message: "subscription completed early" });
      },
    },
  );
}

process.stdout.on("error", () => process.exit(2));
main();
