/**
 * The one error type the runtime reports (GraphQL errors of an operation, or transport failures) and the
 * server's error vocabulary, mirrored from `rxgraphql/errors.py` (a Python test checks both lists agree):
 *
 * - `ServerErrorCodes`: the `extensions.code` values the server answers (`ErrorCode` in Python);
 * - `ErrorCodes`: the codes the runtime produces itself;
 * - `CloseCodes`: the codes the server closes a websocket with (`CloseCode` in Python).
 *
 * The server's exceptions (`RxGraphQLError` → `ActionError`, `WriteRefused`, `ChannelError` → `LimitError`)
 * all reach the client as a GraphQL error with `extensions.code`, i.e. as an `RxGraphQLError` here with that
 * `code`; a declared write answers its refusal in its result instead (`code`: the HTTP status of the code).
 */

/** A GraphQL error as the server formats it. */
export interface GraphQLErrorLike {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: Readonly<Record<string, unknown>>;
}

/** `extensions.code` of the refusals the server answers (`rxgraphql.errors.ErrorCode`). */
export const ServerErrorCodes = {
  /** Invalid arguments or input. */
  BAD_REQUEST: "BAD_REQUEST",
  /** The channel's permission (or `can_save` …) said no, or the socket's credentials were revoked. */
  FORBIDDEN: "FORBIDDEN",
  /** No such anchor, or no such record inside the channel's anchor. */
  NOT_FOUND: "NOT_FOUND",
  /** A list channel changed while no subscription of it is live. */
  NOT_SUBSCRIBED: "NOT_SUBSCRIBED",
  /** A request, document or operation beyond one of the server's limits (`extensions.limit` names it). */
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
} as const;

/** A code the server answers. */
export type ServerErrorCode = (typeof ServerErrorCodes)[keyof typeof ServerErrorCodes];

/**
 * Codes produced by the runtime itself (GraphQL errors keep the server's `extensions.code`, e.g. `FORBIDDEN`,
 * `NOT_FOUND`; a GraphQL error without a code gets `GRAPHQL_ERROR`).
 */
export const ErrorCodes = {
  /** The socket closed while the request was in flight; it may or may not have run on the server. */
  DISCONNECTED: "DISCONNECTED",
  /** No response within the request's timeout. */
  TIMEOUT: "TIMEOUT",
  /** The server closed the socket with a code that must not be retried (see `closeCode`). */
  CONNECTION_CLOSED: "CONNECTION_CLOSED",
  /** The connection was closed by `Connection.close()`. */
  CLOSED: "CLOSED",
  /** A network or client-side failure. */
  TRANSPORT_ERROR: "TRANSPORT_ERROR",
  /** The server sent an event that does not have the channel event shape. */
  BAD_EVENT: "BAD_EVENT",
  /** The server rejected the credentials (close code 4403); the connection retries with a fresh token. */
  UNAUTHORIZED: "UNAUTHORIZED",
  /** A response with neither `data` nor `errors`. */
  BAD_RESPONSE: "BAD_RESPONSE",
  /** A store subscribed to a second, different stream while its first one is active. */
  STORE_IN_USE: "STORE_IN_USE",
  /** A GraphQL error without `extensions.code`. */
  GRAPHQL_ERROR: "GRAPHQL_ERROR",
} as const;

/** A code the runtime produces. */
export type RuntimeErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The `code` of an `RxGraphQLError`: one of the server's, one of the runtime's, or a project's own
 * (an action may raise `ActionError` with any code).
 */
export type ErrorCode = ServerErrorCode | RuntimeErrorCode | (string & {});

/** Codes the server closes a websocket with (`rxgraphql.errors.CloseCode`). */
export const CloseCodes = {
  /** No pong in time. */
  GOING_AWAY: 1001,
  /** A client message beyond the server's frame limit. */
  MESSAGE_TOO_BIG: 1009,
  /** The client left too much unread; it may reconnect and resume. */
  TRY_AGAIN_LATER: 1013,
  /** A message that is not graphql-transport-ws. */
  BAD_REQUEST: 4400,
  /** `subscribe` before the connection was acknowledged. */
  UNAUTHORIZED: 4401,
  /** Credentials that match no user, or an origin that may not open the socket. */
  FORBIDDEN: 4403,
  /** A websocket on a path that serves none. */
  NOT_FOUND: 4404,
  /** No subprotocol the server speaks. */
  SUBPROTOCOL_NOT_ACCEPTABLE: 4406,
  /** No `connection_init` in time. */
  INIT_TIMEOUT: 4408,
  /** A `subscribe` reusing the id of a running operation. */
  SUBSCRIBER_EXISTS: 4409,
  /** A second `connection_init`. */
  TOO_MANY_INIT: 4429,
} as const;

/** A code the server closes a websocket with. */
export type CloseCode = (typeof CloseCodes)[keyof typeof CloseCodes];

export class RxGraphQLError extends Error {
  /** `extensions.code` of the first GraphQL error (e.g. one of `ServerErrorCodes`), or one of `ErrorCodes`. */
  readonly code: ErrorCode;
  /** The GraphQL errors as received (empty for transport failures). */
  readonly errors: readonly GraphQLErrorLike[];
  /** The websocket close code, when the error comes from a closed socket. */
  readonly closeCode: number | undefined;

  constructor(
    message: string,
    code: ErrorCode,
    errors: readonly GraphQLErrorLike[] = [],
    closeCode?: number,
  ) {
    super(message);
    this.name = "RxGraphQLError";
    this.code = code;
    this.errors = errors;
    this.closeCode = closeCode;
  }

  /** Builds the error for a result that carries GraphQL errors. */
  static fromGraphQLErrors(errors: readonly GraphQLErrorLike[]): RxGraphQLError {
    const first = errors[0];
    const code = first?.extensions?.["code"];
    return new RxGraphQLError(
      errors.map((e) => e.message).join("; ") || "GraphQL error",
      typeof code === "string" ? code : ErrorCodes.GRAPHQL_ERROR,
      errors,
    );
  }

  /** Normalizes whatever graphql-ws hands to a sink's `error` (GraphQL errors, a close event, an Error). */
  static from(reason: unknown): RxGraphQLError {
    if (reason instanceof RxGraphQLError) return reason;
    if (Array.isArray(reason)) return RxGraphQLError.fromGraphQLErrors(reason as GraphQLErrorLike[]);
    if (isCloseLike(reason)) {
      return new RxGraphQLError(
        `Connection closed: ${reason.code}${reason.reason ? ` ${reason.reason}` : ""}`,
        ErrorCodes.CONNECTION_CLOSED,
        [],
        reason.code,
      );
    }
    if (reason instanceof Error) return new RxGraphQLError(reason.message, ErrorCodes.TRANSPORT_ERROR);
    return new RxGraphQLError("Connection error", ErrorCodes.TRANSPORT_ERROR);
  }
}

/** True for a close event (DOM `CloseEvent`, `ws` close event, graphql-ws `TerminatedCloseEvent`). */
export function isCloseLike(value: unknown): value is { code: number; reason: string } {
  return (
    typeof value === "object" &&
    value !== null &&
    "code" in value &&
    typeof (value as { code: unknown }).code === "number" &&
    "reason" in value
  );
}
