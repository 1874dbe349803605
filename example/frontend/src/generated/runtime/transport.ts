/**
 * `Connection`: one websocket (graphql-transport-ws, through graphql-ws's `createClient`) shared by every
 * channel subscription and request of an app.
 *
 * - Authentication: `connection_init` carries `{ authorization: "Token <key>" }` when a token is given;
 *   the token may be a string or a (possibly async) getter, read again at every (re)connection.
 * - Reconnection: exponential backoff with full jitter (`random() * min(max, base * 2^attempt)`); the
 *   attempt counter goes back to 0 only when a `connection_ack` arrives (graphql-ws resets its retry
 *   count in its ack handler), so a server that accepts sockets and then drops them is retried with
 *   growing delays, not in a hot loop. Network errors are retried too; close codes that graphql-ws treats
 *   as fatal (4400, 4401, 4406, 4409, 4429, 4500, 1002-1011 except 1005/1006) end the operations with an
 *   error instead.
 * - Liveness: server pings are answered by graphql-ws; the client also pings every `keepAliveMs` and
 *   terminates the socket (which triggers a reconnection) when no pong comes back in `pongTimeoutMs`.
 * - Resumption: graphql-ws re-sends an operation's *same payload object* after a reconnection (it keeps the
 *   object and stringifies it at every send). A channel subscription's payload therefore exposes
 *   `variables` through a getter that reads the store's cursor at send time: every (re)subscription
 *   carries `since` = the last applied cursor. When the socket drops, each channel's store discards a
 *   partially received snapshot (`store.interrupt()`), so that cursor always matches the state held.
 * - Requests (queries and mutations) time out, and are rejected when the socket closes while they are
 *   pending: graphql-ws would otherwise silently re-send them after reconnecting (a mutation could run
 *   twice); the caller decides whether to retry.
 */

import { createClient } from "graphql-ws";
import type { Client, ClientOptions, SubscribePayload } from "graphql-ws";
import { ErrorCodes, RxGraphQLError } from "./errors.js";
import type { GraphQLErrorLike } from "./errors.js";
import type { ChannelEvent, ChannelModel } from "./model.js";
import { ValueCell } from "./observable.js";
import type { ReadableValue } from "./observable.js";
import type { ChannelStore } from "./store.js";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "closed";

export type TokenValue = string | null | undefined;
/** A DRF token key, or a function returning it (read at every connection). */
export type TokenSource = TokenValue | (() => TokenValue | Promise<TokenValue>);

export interface ConnectionOptions {
  /** `ws(s)://host/graphql`, or a function returning it (read at every connection). */
  readonly url: string | (() => string | Promise<string>);
  readonly token?: TokenSource;
  /** WebSocket constructor where there is no global one (Node: `import WebSocket from "ws"`). */
  readonly webSocketImpl?: unknown;
  /** Backoff base delay in ms (default 500). */
  readonly retryBaseMs?: number;
  /** Backoff cap in ms (default 30000). */
  readonly retryMaxMs?: number;
  /** Replaces the backoff policy: delay in ms before reconnection attempt `attempt` (0-based). */
  readonly retryDelay?: (attempt: number) => number;
  /** Random source for the jitter (default Math.random). */
  readonly random?: () => number;
  /** Client ping interval in ms; 0 disables client pings (default 15000). */
  readonly keepAliveMs?: number;
  /** Terminate the socket when a ping is not answered within this many ms (default 5000). */
  readonly pongTimeoutMs?: number;
  /** Close the socket unless `connection_ack` arrives within this many ms (default 10000). */
  readonly ackTimeoutMs?: number;
  /** Default timeout of `request()` in ms (default 15000). */
  readonly requestTimeoutMs?: number;
  /** Open the socket only while operations are active (default true). */
  readonly lazy?: boolean;
  /** In lazy mode, keep an idle socket open this many ms (default 1000; absorbs quick remounts). */
  readonly idleCloseMs?: number;
}

export interface RequestOptions {
  readonly timeoutMs?: number;
  readonly operationName?: string;
}

export interface SubscribeChannelOptions {
  readonly operationName?: string;
}

/** A live channel subscription, returned by `Connection.subscribeChannel`. */
export interface ChannelSubscription {
  /** False once unsubscribed, completed by the server, or failed. */
  readonly active: boolean;
  /** Stops the subscription (idempotent). The store keeps its state and cursor, for a later resume. */
  unsubscribe(): void;
}

/** Full-jitter exponential backoff: a uniformly random delay in `[0, min(maxMs, baseMs * 2^attempt))`. */
export function fullJitterBackoff(
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): (attempt: number) => number {
  return (attempt) => Math.floor(random() * Math.min(maxMs, baseMs * 2 ** attempt));
}

/** Close codes after which graphql-ws does not reconnect (its fatal list). */
function isFatalClose(code: number): boolean {
  if ([4500, 4005, 4400, 4004, 4401, 4406, 4409, 4429].includes(code)) return true;
  if ([1000, 1001, 1005, 1006, 1012, 1013, 1014].includes(code)) return false;
  return code >= 1000 && code <= 1999;
}

interface PendingRequest {
  fail(error: RxGraphQLError): void;
}

interface ActiveChannel {
  readonly store: ChannelStore<unknown>;
}

export class Connection {
  /** connecting | connected | reconnecting | closed (closed also while idle in lazy mode). */
  readonly status: ReadableValue<ConnectionStatus>;
  /** The last close code and reason seen (e.g. 4403 for a rejected token), null before any close. */
  readonly lastClose: ReadableValue<{ readonly code: number; readonly reason: string } | null>;

  private readonly client: Client;
  private readonly statusCell: ValueCell<ConnectionStatus>;
  private readonly closeCell = new ValueCell<{ readonly code: number; readonly reason: string } | null>(null);
  private readonly pending = new Set<PendingRequest>();
  private readonly channels = new Set<ActiveChannel>();
  private readonly lazy: boolean;
  private readonly requestTimeoutMs: number;
  private readonly pongTimeoutMs: number;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;

  constructor(options: ConnectionOptions) {
    this.lazy = options.lazy ?? true;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.pongTimeoutMs = options.pongTimeoutMs ?? 5_000;
    this.statusCell = new ValueCell<ConnectionStatus>(this.lazy ? "closed" : "connecting");
    this.status = this.statusCell;
    this.lastClose = this.closeCell;
    const delay =
      options.retryDelay ??
      fullJitterBackoff(options.retryBaseMs ?? 500, options.retryMaxMs ?? 30_000, options.random ?? Math.random);
    const token = options.token;

    const clientOptions: ClientOptions = {
      url: options.url,
      lazy: this.lazy,
      lazyCloseTimeout: options.idleCloseMs ?? 1_000,
      keepAlive: options.keepAliveMs ?? 15_000,
      connectionAckWaitTimeout: options.ackTimeoutMs ?? 10_000,
      retryAttempts: Number.POSITIVE_INFINITY,
      retryWait: (attempt) => new Promise<void>((resolve) => setTimeout(resolve, delay(attempt))),
      // Network errors are not close events: retry them as well (graphql-ws would give up).
      shouldRetry: () => !this.disposed,
      connectionParams: async () => {
        const key = typeof token === "function" ? await token() : token;
        return key ? { authorization: `Token ${key}` } : {};
      },
      onNonLazyError: (error) => {
        this.failChannels(RxGraphQLError.from(error));
        this.statusCell.set("closed");
      },
      on: {
        connecting: (isRetry) => {
          const status = this.statusCell.value;
          this.statusCell.set(isRetry || status === "reconnecting" ? "reconnecting" : "connecting");
        },
        connected: () => this.statusCell.set("connected"),
        ping: (received) => {
          if (!received) this.armPongTimer();
        },
        pong: (received) => {
          if (received) this.clearPongTimer();
        },
        closed: (event) => this.onClosed(event),
        error: () => this.onSocketGone(),
      },
    };
    if (options.webSocketImpl !== undefined) clientOptions.webSocketImpl = options.webSocketImpl;
    this.client = createClient(clientOptions);
  }

  /**
   * Subscribes `store` to a channel. `query` is the subscription document (it declares `$since: String`);
   * `variables` are the channel arguments (without `since`: it is added from the store's cursor at every
   * (re)subscription). GraphQL errors (e.g. `FORBIDDEN`) and fatal transport errors are reported through
   * `store.setError` and end the subscription.
   */
  subscribeChannel<S>(
    model: ChannelModel,
    query: string,
    variables: Readonly<Record<string, unknown>>,
    store: ChannelStore<S>,
    options: SubscribeChannelOptions = {},
  ): ChannelSubscription {
    if (this.disposed) {
      store.setError(new RxGraphQLError("Connection closed", ErrorCodes.CLOSED));
      return { active: false, unsubscribe: () => {} };
    }
    const payload = channelPayload(query, variables, store, options.operationName);
    const entry: ActiveChannel = { store: store as ChannelStore<unknown> };
    this.channels.add(entry);
    let active = true;
    const finish = (): void => {
      active = false;
      this.channels.delete(entry);
    };
    const dispose = this.client.subscribe<Record<string, unknown>>(payload, {
      next: (result) => {
        if (!active) return;
        const errors = result.errors as readonly GraphQLErrorLike[] | undefined;
        if (errors !== undefined && errors.length > 0) {
          store.setError(RxGraphQLError.fromGraphQLErrors(errors));
          return;
        }
        const event = result.data?.[model.field];
        if (!isChannelEvent(event)) {
          store.setError(
            new RxGraphQLError(`Malformed event for ${model.field}`, ErrorCodes.BAD_EVENT),
          );
          return;
        }
        store.apply(event);
      },
      error: (error) => {
        if (!active) return;
        finish();
        store.interrupt();
        store.setError(RxGraphQLError.from(error));
      },
      complete: finish,
    });
    return {
      get active() {
        return active;
      },
      unsubscribe: () => {
        if (!active) return;
        finish();
        dispose();
      },
    };
  }

  /**
   * Runs a query or mutation over the socket. Resolves with `data`; rejects with `RxGraphQLError` on
   * GraphQL errors, on timeout (`TIMEOUT`), when the socket closes before the result arrived
   * (`DISCONNECTED`) and after `close()` (`CLOSED`).
   */
  request<TData = Record<string, unknown>>(
    query: string,
    variables: Readonly<Record<string, unknown>> = {},
    options: RequestOptions = {},
  ): Promise<TData> {
    if (this.disposed) return Promise.reject(new RxGraphQLError("Connection closed", ErrorCodes.CLOSED));
    return new Promise<TData>((resolve, reject) => {
      let settled = false;
      let dispose: () => void = () => {};
      const entry: PendingRequest = {
        fail: (error) => {
          this.pending.delete(entry);
          dispose();
          settle(() => reject(error));
        },
      };
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        action();
      };
      const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
      const timer = setTimeout(
        () => entry.fail(new RxGraphQLError(`Request timed out after ${timeoutMs} ms`, ErrorCodes.TIMEOUT)),
        timeoutMs,
      );
      this.pending.add(entry);
      const payload: SubscribePayload =
        options.operationName === undefined
          ? { query, variables: { ...variables } }
          : { query, variables: { ...variables }, operationName: options.operationName };
      dispose = this.client.subscribe<TData>(payload, {
        next: (result) => {
          const errors = result.errors as readonly GraphQLErrorLike[] | undefined;
          settle(() => {
            if (errors !== undefined && errors.length > 0) reject(RxGraphQLError.fromGraphQLErrors(errors));
            else resolve(result.data as TData);
          });
        },
        error: (error) => {
          this.pending.delete(entry);
          settle(() => reject(RxGraphQLError.from(error)));
        },
        complete: () => {
          this.pending.delete(entry);
          settle(() => reject(new RxGraphQLError("Operation completed without a result", ErrorCodes.GRAPHQL_ERROR)));
        },
      });
    });
  }

  /** Number of requests waiting for their result. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Number of active channel subscriptions. */
  get activeChannels(): number {
    return this.channels.size;
  }

  /** Closes the socket for good: pending requests are rejected, channel subscriptions end. */
  close(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clearPongTimer();
    this.rejectPending(new RxGraphQLError("Connection closed", ErrorCodes.CLOSED));
    for (const channel of this.channels) channel.store.interrupt();
    // dispose() awaits a connection attempt in progress, which may fail: nothing left to report then.
    Promise.resolve(this.client.dispose()).catch(() => {});
    this.statusCell.set("closed");
  }

  // ----------------------------------------------------------------------------------------------------

  private onClosed(event: unknown): void {
    const code = typeof (event as { code?: unknown })?.code === "number" ? (event as { code: number }).code : 1006;
    const reason = String((event as { reason?: unknown })?.reason ?? "");
    this.closeCell.set({ code, reason });
    this.onSocketGone(code);
  }

  /** The socket closed or failed: pending requests fail, partial snapshots are dropped, status updates. */
  private onSocketGone(code?: number): void {
    this.clearPongTimer();
    this.rejectPending(new RxGraphQLError("Connection lost before the result arrived", ErrorCodes.DISCONNECTED));
    for (const channel of this.channels) channel.store.interrupt();
    const willRetry =
      !this.disposed && (code === undefined || !isFatalClose(code)) && (!this.lazy || this.channels.size > 0);
    this.statusCell.set(willRetry ? "reconnecting" : "closed");
  }

  private rejectPending(error: RxGraphQLError): void {
    for (const entry of [...this.pending]) entry.fail(error);
  }

  private failChannels(error: RxGraphQLError): void {
    for (const channel of [...this.channels]) channel.store.setError(error);
  }

  private armPongTimer(): void {
    this.clearPongTimer();
    this.pongTimer = setTimeout(() => this.client.terminate(), this.pongTimeoutMs);
  }

  private clearPongTimer(): void {
    if (this.pongTimer !== undefined) clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }
}

/**
 * The subscription payload of a channel. graphql-ws keeps this object and stringifies it again at every
 * (re)subscription, so the `variables` getter puts the store's current cursor in `since` each time.
 */
function channelPayload(
  query: string,
  variables: Readonly<Record<string, unknown>>,
  store: ChannelStore<unknown>,
  operationName: string | undefined,
): SubscribePayload {
  const payload = {
    query,
    get variables(): Record<string, unknown> {
      const since = store.cursor;
      return since === "" ? { ...variables } : { ...variables, since };
    },
  };
  return operationName === undefined ? payload : Object.defineProperty(payload, "operationName", {
    value: operationName,
    enumerable: true,
  });
}

function isChannelEvent(value: unknown): value is ChannelEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e["cursor"] === "string" &&
    typeof e["reset"] === "boolean" &&
    typeof e["ready"] === "boolean" &&
    Array.isArray(e["records"]) &&
    Array.isArray(e["deleted"])
  );
}
