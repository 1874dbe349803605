/**
 * `Connection`: one websocket (graphql-transport-ws, through graphql-ws's `createClient`) shared by every
 * channel subscription and request of an app.
 *
 * - Authentication: `connection_init` carries `{ authorization: "Token <key>" }` when a token is given;
 *   the token may be a string or a (possibly async) provider, called again at every (re)connection with
 *   `{ rejected: true }` after the server rejected the previous token (close code 4403), so it can fetch a
 *   fresh one. A rejection is not fatal (a refreshed token may succeed): the connection keeps retrying with
 *   backoff, its status and every subscribed store's status say `unauthorized`, and each store's `error` is
 *   `UNAUTHORIZED` with the close code, until a connection is accepted again; every subscription then
 *   resumes from its store's cursor. `reauthenticate()` reconnects at once (e.g. after the user signed in
 *   again).
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
 * - One stream per store: subscribing a store that already has an active subscription (another component
 *   reading the same store) shares it; the server subscription ends when the last handle unsubscribes.
 * - `close()` is final: a reconnection waiting for its backoff is cancelled, no socket is opened and no
 *   credentials are sent afterwards.
 * - Requests (queries and mutations) time out, and are rejected when the socket closes while they are
 *   pending: graphql-ws would otherwise silently re-send them after reconnecting (a mutation could run
 *   twice); the caller decides whether to retry.
 */

import { createClient } from "graphql-ws";
import type { Client, ClientOptions, SubscribePayload } from "graphql-ws";
import { CloseCodes, ErrorCodes, RxGraphQLError } from "./errors.js";
import type { GraphQLErrorLike } from "./errors.js";
import type { ChannelEvent, ConnectionStatus } from "./model.js";
import { ValueCell } from "./observable.js";
import type { ReadableValue } from "./observable.js";
import { feedOf } from "./store.js";
import type { ChannelFeed, ChannelStore } from "./store.js";

export type { ConnectionStatus } from "./model.js";

/** The close code with which the server rejects credentials (a bad, expired or revoked token). */
export const UNAUTHORIZED_CLOSE_CODE = CloseCodes.FORBIDDEN;

export type TokenValue = string | null | undefined;
/** What a token provider is told: `rejected` after the server refused the previous token (4403). */
export interface TokenRequest {
  readonly rejected: boolean;
}
/** A DRF token key, or a provider returning it (called at every connection). */
export type TokenSource = TokenValue | ((request: TokenRequest) => TokenValue | Promise<TokenValue>);

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

/** The one server subscription of a store, shared by every handle subscribing it. */
interface SharedStream {
  readonly store: ChannelStore<unknown>;
  readonly feed: ChannelFeed;
  readonly key: string;
  readonly connection: Connection;
  handles: number;
  active: boolean;
  dispose(): void;
}

/** Store -> its active stream, whichever connection runs it. */
const streams = new WeakMap<ChannelStore<unknown>, SharedStream>();

export class Connection {
  /** connecting | connected | reconnecting | closed (closed also while idle in lazy mode). */
  readonly status: ReadableValue<ConnectionStatus>;
  /** The last close code and reason seen (e.g. 4403 for a rejected token), null before any close. */
  readonly lastClose: ReadableValue<{ readonly code: number; readonly reason: string } | null>;

  private readonly client: Client;
  private readonly statusCell: ValueCell<ConnectionStatus>;
  private readonly closeCell = new ValueCell<{ readonly code: number; readonly reason: string } | null>(null);
  private readonly pending = new Set<PendingRequest>();
  private readonly channels = new Set<SharedStream>();
  private readonly lazy: boolean;
  /** The pending backoff wait of a reconnection, to cut it short (`close`, `reauthenticate`). */
  private waiting: { readonly timer: ReturnType<typeof setTimeout>; readonly resolve: () => void } | null = null;
  private skipWait = false;
  private rejected = false;
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
      retryWait: (attempt) => this.wait(this.skipWait ? 0 : delay(attempt)),
      // Network errors are not close events: retry them as well (graphql-ws would give up).
      shouldRetry: () => !this.disposed,
      connectionParams: async () => {
        const key = typeof token === "function" ? await token({ rejected: this.rejected }) : token;
        // `close()` while the provider ran: graphql-ws closes the socket (4500) without sending anything
        if (this.disposed) throw new RxGraphQLError("Connection closed", ErrorCodes.CLOSED);
        return key ? { authorization: `Token ${key}` } : {};
      },
      onNonLazyError: (error) => {
        this.failChannels(RxGraphQLError.from(error));
        this.statusCell.set("closed");
      },
      on: {
        connecting: (isRetry) => {
          if (this.disposed) return;
          this.skipWait = false;
          const status = this.statusCell.value;
          if (status === "unauthorized") return; // until a connection is accepted
          this.setStatus(isRetry || status === "reconnecting" ? "reconnecting" : "connecting");
        },
        connected: () => {
          if (this.disposed) return;
          this.rejected = false;
          this.clearUnauthorized();
          this.setStatus("connected");
        },
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
    clientOptions.webSocketImpl = guardedWebSocket(
      options.webSocketImpl ?? (globalThis as { WebSocket?: unknown }).WebSocket,
      () => this.disposed,
    );
    this.client = createClient(clientOptions);
  }

  /**
   * Subscribes `store` to its channel (`store.model`). `query` is the subscription document (it declares
   * `$since: String`); `variables` are the channel arguments (without `since`: it is added from the store's
   * cursor at every (re)subscription). GraphQL errors (e.g. `FORBIDDEN`) and fatal transport errors are
   * reported through the store's `error` and end the subscription.
   *
   * A store has one server subscription at a time: subscribing it again (another component reading the
   * same store) with the same document and variables shares the active one, which ends when every handle
   * unsubscribed. Subscribing it to another document, other variables or through another connection while
   * it is active throws.
   */
  subscribeChannel<S>(
    store: ChannelStore<S>,
    query: string,
    variables: Readonly<Record<string, unknown>>,
    options: SubscribeChannelOptions = {},
  ): ChannelSubscription {
    const feed = feedOf(store);
    if (this.disposed) {
      feed.setError(new RxGraphQLError("Connection closed", ErrorCodes.CLOSED));
      return { active: false, unsubscribe: () => {} };
    }
    const key = `${options.operationName ?? ""}\u0000${query}\u0000${stableKey(variables)}`;
    const owner = store as ChannelStore<unknown>;
    let stream = streams.get(owner);
    if (stream !== undefined && (stream.key !== key || stream.connection !== this)) {
      throw new RxGraphQLError(
        "This store is already subscribed with another document, other variables or another connection",
        ErrorCodes.STORE_IN_USE,
      );
    }
    stream ??= this.openStream(owner, feed, key, query, variables, options.operationName);
    const shared = stream;
    shared.handles += 1;
    let released = false;
    return {
      get active() {
        return !released && shared.active;
      },
      unsubscribe: () => {
        if (released) return;
        released = true;
        shared.handles -= 1;
        if (shared.handles === 0 && shared.active) this.endStream(shared, true);
      },
    };
  }

  private openStream(
    store: ChannelStore<unknown>,
    feed: ChannelFeed,
    key: string,
    query: string,
    variables: Readonly<Record<string, unknown>>,
    operationName: string | undefined,
  ): SharedStream {
    const model = store.model;
    const stream: SharedStream = { store, feed, key, connection: this, handles: 0, active: true, dispose: () => {} };
    streams.set(store, stream);
    this.channels.add(stream);
    feed.setStatus(this.statusCell.value);
    const payload = channelPayload(query, variables, store, operationName);
    stream.dispose = this.client.subscribe<Record<string, unknown>>(payload, {
      next: (result) => {
        if (!stream.active) return;
        const errors = result.errors as readonly GraphQLErrorLike[] | undefined;
        if (errors !== undefined && errors.length > 0) {
          feed.setError(RxGraphQLError.fromGraphQLErrors(errors));
          return;
        }
        const event = result.data?.[model.field];
        if (!isChannelEvent(event)) {
          feed.setError(new RxGraphQLError(`Malformed event for ${model.field}`, ErrorCodes.BAD_EVENT));
          return;
        }
        feed.apply(event);
      },
      error: (error) => {
        if (!stream.active) return;
        this.endStream(stream, false);
        feed.interrupt();
        feed.setError(RxGraphQLError.from(error));
      },
      complete: () => {
        if (stream.active) this.endStream(stream, false);
      },
    });
    return stream;
  }

  private endStream(stream: SharedStream, dispose: boolean): void {
    stream.active = false;
    this.channels.delete(stream);
    if (streams.get(stream.store) === stream) streams.delete(stream.store);
    stream.feed.setStatus("closed");
    if (dispose) stream.dispose();
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
            else if (result.data == null) {
              reject(new RxGraphQLError("The response has neither data nor errors", ErrorCodes.BAD_RESPONSE));
            } else resolve(result.data as TData);
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

  /**
   * Connects again now, with a token read afresh from the provider (after the user signed in again, or
   * when the app knows the token changed); every subscription resumes from its store's cursor.
   */
  reauthenticate(): void {
    if (this.disposed) return;
    this.skipWait = true;
    const waiting = this.waiting;
    if (waiting !== null) {
      clearTimeout(waiting.timer);
      this.waiting = null;
      waiting.resolve();
    } else {
      this.client.terminate();
    }
  }

  /** Closes the socket for good: pending requests are rejected, channel subscriptions end. */
  close(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clearPongTimer();
    this.rejectPending(new RxGraphQLError("Connection closed", ErrorCodes.CLOSED));
    for (const stream of [...this.channels]) {
      stream.feed.interrupt();
      this.endStream(stream, true);
    }
    // A reconnection waiting for its backoff ends now; the guarded WebSocket opens nothing any more.
    const waiting = this.waiting;
    if (waiting !== null) {
      clearTimeout(waiting.timer);
      this.waiting = null;
      waiting.resolve();
    }
    // dispose() awaits a connection attempt in progress, which may fail: nothing left to report then.
    Promise.resolve(this.client.dispose()).catch(() => {});
    this.statusCell.set("closed");
  }

  // ----------------------------------------------------------------------------------------------------

  private onClosed(event: unknown): void {
    const code = typeof (event as { code?: unknown })?.code === "number" ? (event as { code: number }).code : 1006;
    const reason = String((event as { reason?: unknown })?.reason ?? "");
    this.closeCell.set({ code, reason });
    this.onSocketGone(code, reason);
  }

  /** The socket closed or failed: pending requests fail, partial snapshots are dropped, status updates. */
  private onSocketGone(code?: number, reason = ""): void {
    this.clearPongTimer();
    this.rejectPending(new RxGraphQLError("Connection lost before the result arrived", ErrorCodes.DISCONNECTED));
    for (const channel of this.channels) channel.feed.interrupt();
    if (this.disposed) return;
    if (code === UNAUTHORIZED_CLOSE_CODE) {
      this.rejected = true;
      this.failChannels(
        new RxGraphQLError(
          `The server rejected the credentials (${code}${reason ? ` ${reason}` : ""})`,
          ErrorCodes.UNAUTHORIZED,
          [],
          code,
        ),
      );
      this.setStatus("unauthorized");
      return;
    }
    const willRetry = (code === undefined || !isFatalClose(code)) && (!this.lazy || this.channels.size > 0);
    if (this.statusCell.value === "unauthorized" && willRetry) return;
    this.setStatus(willRetry ? "reconnecting" : "closed");
  }

  private setStatus(status: ConnectionStatus): void {
    this.statusCell.set(status);
    for (const channel of this.channels) channel.feed.setStatus(status);
  }

  /** A connection was accepted: the `UNAUTHORIZED` errors reported on the stores no longer hold. */
  private clearUnauthorized(): void {
    for (const channel of this.channels) channel.feed.clearError(ErrorCodes.UNAUTHORIZED);
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.disposed) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.waiting = null;
        resolve();
      }, ms);
      this.waiting = { timer, resolve };
    });
  }

  private rejectPending(error: RxGraphQLError): void {
    for (const entry of [...this.pending]) entry.fail(error);
  }

  private failChannels(error: RxGraphQLError): void {
    for (const channel of [...this.channels]) channel.feed.setError(error);
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

/**
 * The WebSocket constructor handed to graphql-ws: after `close()` it opens nothing and hands back a socket
 * that is already closed (1000), so a reconnection that was waiting ends without a network attempt.
 */
function guardedWebSocket(impl: unknown, disposed: () => boolean): unknown {
  const Impl = impl as (new (url: string, protocols?: string | string[]) => unknown) | undefined;
  return class GuardedWebSocket {
    static readonly CONNECTING = 0;
    static readonly OPEN = 1;
    static readonly CLOSING = 2;
    static readonly CLOSED = 3;
    constructor(url: string, protocols?: string | string[]) {
      if (!disposed() && Impl !== undefined) return new Impl(url, protocols) as GuardedWebSocket;
      const closed = {
        readyState: 3,
        protocol: "",
        onopen: null,
        onerror: null,
        onmessage: null,
        onclose: null as ((event: { code: number; reason: string; wasClean: boolean }) => void) | null,
        close: () => {},
        send: () => {},
      };
      setTimeout(() => closed.onclose?.({ code: 1000, reason: "Connection closed", wasClean: true }), 0);
      return closed as unknown as GuardedWebSocket;
    }
  };
}

/** JSON with object keys sorted, so equal variables give equal keys whatever their key order. */
export function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
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
