import { RxGraphQLError } from "./generated";

/** A readable message for a failed request (GraphQL error code, timeout, dropped socket). */
export function describeError(error: unknown): string {
  if (error instanceof RxGraphQLError) return error.code ? `${error.message} (${error.code})` : error.message;
  return error instanceof Error ? error.message : String(error);
}

/** The serializer's field errors of a write result, as one line: "title: This field may not be blank." */
export function describeFieldErrors(message: string, errors: unknown): string {
  if (errors === null || typeof errors !== "object") return message;
  const parts = Object.entries(errors as Record<string, unknown>).map(
    ([field, value]) => `${field}: ${Array.isArray(value) ? value.join(" ") : String(value)}`,
  );
  return parts.length > 0 ? parts.join("; ") : message;
}
