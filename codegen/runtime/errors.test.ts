import { describe, expect, it } from "vitest";
import { CloseCodes, ErrorCodes, RxGraphQLError, ServerErrorCodes } from "./errors.js";
import type { CloseCode, ErrorCode, ServerErrorCode } from "./errors.js";
import { UNAUTHORIZED_CLOSE_CODE } from "./transport.js";

describe("error codes", () => {
  it("keep the server's extensions.code", () => {
    const error = RxGraphQLError.fromGraphQLErrors([
      { message: "No such anchor", extensions: { code: ServerErrorCodes.NOT_FOUND } },
      { message: "second", extensions: { code: "FORBIDDEN" } },
    ]);
    const code: ErrorCode = error.code;
    expect(code).toBe("NOT_FOUND");
    expect(error.message).toBe("No such anchor; second");
    expect(error.closeCode).toBeUndefined();
  });

  it("keep a project's own code, and name a GraphQL error without one", () => {
    expect(RxGraphQLError.fromGraphQLErrors([{ message: "x", extensions: { code: "OUT_OF_STOCK" } }]).code).toBe(
      "OUT_OF_STOCK",
    );
    expect(RxGraphQLError.fromGraphQLErrors([{ message: "x" }]).code).toBe(ErrorCodes.GRAPHQL_ERROR);
  });

  it("are each a key of its own list, and the runtime's are none of the server's", () => {
    for (const [key, value] of Object.entries(ServerErrorCodes)) expect(value).toBe(key);
    for (const [key, value] of Object.entries(ErrorCodes)) expect(value).toBe(key);
    const server = new Set<string>(Object.values(ServerErrorCodes));
    expect(Object.values(ErrorCodes).filter((code) => server.has(code))).toEqual([]);
    const typed: ServerErrorCode[] = Object.values(ServerErrorCodes);
    expect(typed).toContain("LIMIT_EXCEEDED");
  });
});

describe("close codes", () => {
  it("are distinct and the rejected-credentials code is FORBIDDEN", () => {
    const values: CloseCode[] = Object.values(CloseCodes);
    expect(new Set(values).size).toBe(values.length);
    expect(UNAUTHORIZED_CLOSE_CODE).toBe(CloseCodes.FORBIDDEN);
    expect(CloseCodes.FORBIDDEN).toBe(4403);
  });

  it("reach the error of a closed socket", () => {
    const error = RxGraphQLError.from({ code: CloseCodes.TRY_AGAIN_LATER, reason: "Client too slow to receive" });
    expect([error.code, error.closeCode]).toEqual([ErrorCodes.CONNECTION_CLOSED, 1013]);
    expect(error.message).toBe("Connection closed: 1013 Client too slow to receive");
  });
});
