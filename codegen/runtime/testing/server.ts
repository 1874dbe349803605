/**
 * A scriptable graphql-transport-ws server for transport tests (built on `ws`): it records every message,
 * lets a test decide how `connection_init` is answered, and push `next` / `complete` / pings by hand.
 */

import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";

export interface Received {
  readonly socket: number;
  readonly message: { type: string; id?: string; payload?: unknown };
}

export interface Operation {
  readonly socket: WebSocket;
  readonly socketNo: number;
  readonly id: string;
  readonly query: string;
  readonly variables: Record<string, unknown>;
  completedByClient: boolean;
}

export type InitReply = "ack" | "terminate" | "ignore" | { close: number; reason?: string };

export class TestServer {
  readonly received: Received[] = [];
  readonly operations: Operation[] = [];
  /** How to answer `connection_init` (payload given). */
  onInit: (payload: unknown, socketNo: number) => InitReply = () => "ack";
  /** Called for each `subscribe` (after it is recorded). */
  onSubscribe: (op: Operation) => void = () => {};
  /** Answer client pings with pongs. */
  answerPings = true;
  private readonly wss: WebSocketServer;
  private readonly sockets: WebSocket[] = [];

  private constructor(wss: WebSocketServer) {
    this.wss = wss;
    wss.on("connection", (socket) => this.accept(socket));
  }

  static async start(): Promise<TestServer> {
    const wss = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      handleProtocols: (protocols) => (protocols.has("graphql-transport-ws") ? "graphql-transport-ws" : false),
    });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    return new TestServer(wss);
  }

  get url(): string {
    const address = this.wss.address();
    if (address === null || typeof address === "string") throw new Error("unexpected address");
    return `ws://127.0.0.1:${address.port}/graphql`;
  }

  /** Sockets opened so far. */
  get connections(): number {
    return this.sockets.length;
  }

  /** Open sockets. */
  get openSockets(): number {
    return this.sockets.filter((s) => s.readyState === s.OPEN).length;
  }

  /** Operations the client subscribed and did not complete, on open sockets. */
  activeOperations(): Operation[] {
    return this.operations.filter((op) => !op.completedByClient && op.socket.readyState === op.socket.OPEN);
  }

  messages(type: string): Received[] {
    return this.received.filter((r) => r.message.type === type);
  }

  next(op: Operation, payload: unknown): void {
    op.socket.send(JSON.stringify({ id: op.id, type: "next", payload }));
  }

  complete(op: Operation): void {
    op.socket.send(JSON.stringify({ id: op.id, type: "complete" }));
  }

  ping(): void {
    for (const s of this.sockets) if (s.readyState === s.OPEN) s.send(JSON.stringify({ type: "ping" }));
  }

  /** Abruptly drops every open socket (the client sees 1006). */
  dropAll(): void {
    for (const s of this.sockets) if (s.readyState === s.OPEN) s.terminate();
  }

  closeAll(code: number, reason = ""): void {
    for (const s of this.sockets) if (s.readyState === s.OPEN) s.close(code, reason);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(socket: WebSocket): void {
    const socketNo = this.sockets.length;
    this.sockets.push(socket);
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as Received["message"];
      this.received.push({ socket: socketNo, message });
      switch (message.type) {
        case "connection_init": {
          const reply = this.onInit(message.payload, socketNo);
          if (reply === "ack") socket.send(JSON.stringify({ type: "connection_ack" }));
          else if (reply === "terminate") socket.terminate();
          else if (reply !== "ignore") socket.close(reply.close, reply.reason ?? "");
          return;
        }
        case "ping":
          if (this.answerPings) socket.send(JSON.stringify({ type: "pong" }));
          return;
        case "subscribe": {
          const payload = message.payload as { query: string; variables?: Record<string, unknown> };
          const op: Operation = {
            socket,
            socketNo,
            id: String(message.id),
            query: payload.query,
            variables: payload.variables ?? {},
            completedByClient: false,
          };
          this.operations.push(op);
          this.onSubscribe(op);
          return;
        }
        case "complete": {
          for (const op of this.operations) if (op.id === message.id && op.socket === socket) op.completedByClient = true;
          return;
        }
        default:
          return;
      }
    });
  }
}

/** Polls `predicate` until it holds (or fails after `timeoutMs`). */
export async function until(predicate: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
