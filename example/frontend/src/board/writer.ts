// Optimistic writes of the board: shown at once as a layer over the live state, then committed (temporary
// ids mapped to the server's) or rolled back exactly when the server refuses or the request fails.
import type { BoardState, ChannelStore } from "../generated";
import type { OptimisticChange } from "../generated/runtime/index.js";
import { describeError, describeFieldErrors } from "../errors";

/** What a board write answers: a `<Type>WriteResult`, or an action's plain success. */
export interface WriteOutcome {
  readonly ok: boolean;
  readonly code: number;
  readonly message: string;
  readonly errors: unknown;
  readonly record: { readonly id: string } | null;
  /** The position of the write's commit in the board's stream: the optimistic layer settles there. */
  readonly cursor?: string | null;
}

export const DONE: WriteOutcome = { ok: true, code: 200, message: "", errors: null, record: null };

export interface Writer {
  run(change: OptimisticChange, send: () => Promise<WriteOutcome>, tempId?: string): Promise<boolean>;
  /** Run a write that has nothing to show before the server answers (an action). */
  call(send: () => Promise<unknown>): Promise<boolean>;
  /** A temporary id for a record created optimistically (replaced by the server's id on commit). */
  tempId(): string;
}

let writeSequence = 0;

export function makeWriter(store: ChannelStore<BoardState>, onError: (message: string | null) => void): Writer {
  return {
    tempId: () => store.tempId(),
    async run(change, send, tempId) {
      writeSequence += 1;
      const handle = store.optimistic(`write-${writeSequence}`, change);
      onError(null);
      try {
        const result = await send();
        if (!result.ok) {
          handle.rollback();
          onError(`Refused (${result.code}): ${describeFieldErrors(result.message, result.errors)}`);
          return false;
        }
        const ids = tempId !== undefined && result.record !== null ? { [tempId]: result.record.id } : {};
        handle.commit(ids, result.cursor);
        void handle.settled.then((status) => {
          if (status === "unconfirmed") onError("Saved, but the change has not come back from the server yet.");
        });
        return true;
      } catch (reason) {
        handle.rollback();
        onError(`Not saved: ${describeError(reason)}`);
        return false;
      }
    },
    async call(send) {
      onError(null);
      try {
        await send();
        return true;
      } catch (reason) {
        onError(`Refused: ${describeError(reason)}`);
        return false;
      }
    },
  };
}
