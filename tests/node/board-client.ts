/**
 * A Node program on the generated client: it follows one board through the generated `BoardChannel`
 * and prints the rebuilt state as one JSON line each time an event is applied and the state is ready.
 *
 *   node dist/board-client.js --url ws://127.0.0.1:PORT/graphql --token KEY --board ID
 */
import WebSocket from "ws";

import { BoardChannel, Connection } from "./generated/index.js";

function option(name: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : undefined;
  if (value === undefined) {
    process.stderr.write(`missing --${name}\n`);
    process.exit(2);
  }
  return value;
}

const connection = new Connection({
  url: option("url"),
  token: option("token"),
  webSocketImpl: WebSocket,
  lazy: false,
  retryBaseMs: 50,
  retryMaxMs: 500,
});
const channel = new BoardChannel(connection, { boardId: option("board") });

connection.status.subscribe((status) => {
  process.stdout.write(JSON.stringify({ status }) + "\n");
});
channel.subscribe(() => {
  const error = channel.store.error;
  if (error !== null) {
    process.stdout.write(JSON.stringify({ error: error.code }) + "\n");
    return;
  }
  if (channel.ready) {
    process.stdout.write(JSON.stringify({ cursor: channel.store.cursor, state: channel.state }) + "\n");
  }
});
channel.start();

process.stdin.on("data", () => {
  channel.stop();
  connection.close();
  process.exit(0);
});
