/** The one error type the runtime reports: GraphQL errors of an operation, or transport failures. */

/** A GraphQL error as the server formats it. */
export interface GraphQLErrorLike {
  readonly message: string;
  readonly path?: readonly (string | number)[];
  readonly extensions?: Readonly<Record<string, unknown>>;
}

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

export class RxGraphQLError extends Error {
  /** `extensions.code` of the first GraphQL error, or one of `ErrorCodes`. */
  readonly code: string;
  /** The GraphQL errors as received (empty for transport failures). */
  readonly errors: readonly GraphQLErrorLike[];
  /** The websocket close code, when the error comes from a closed socket. */
  readonly closeCode: number | undefined;

  constructor(
    message: string,
    code: string,
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
