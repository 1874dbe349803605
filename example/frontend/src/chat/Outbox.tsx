// Messages on their way: a send while the socket is down waits (shown as "waiting for the connection") and
// goes out once it is back; a send in flight shows "sending…" until the message itself arrives on the
// stream; a send that fails stays, marked failed with the reason, to retry or discard. A send cut off by a
// dropped socket (DISCONNECTED) may or may not have been stored, so it is never retried blindly.
import { useCallback, useEffect, useRef, useState } from "react";
import type { ReactElement } from "react";
import type { ChatRoomChannelActions, ConnectionStatus } from "../generated";
import { ErrorCodes, RxGraphQLError } from "../generated";
import { describeError } from "../errors";

type OutboxState = "waiting" | "sending" | "sent" | "failed";

export interface OutboxItem {
  readonly key: number;
  readonly text: string;
  readonly state: OutboxState;
  /** The stored message's id once the server answered (the item goes when that message arrives). */
  readonly messageId?: string;
  readonly reason?: string | undefined;
}

export interface Outbox {
  readonly items: readonly OutboxItem[];
  send(text: string): void;
  retry(key: number): void;
  discard(key: number): void;
}

let outboxSequence = 0;

export function useOutbox(
  actions: ChatRoomChannelActions | null,
  status: ConnectionStatus,
  messages: ReadonlyArray<{ readonly id: string }>,
): Outbox {
  const [items, setItems] = useState<readonly OutboxItem[]>([]);
  const update = (key: number, change: Partial<OutboxItem>): void =>
    setItems((current) => current.map((item) => (item.key === key ? { ...item, ...change } : item)));
  const actionsRef = useRef(actions);
  actionsRef.current = actions;

  const dispatch = useCallback((item: OutboxItem): void => {
    const post = actionsRef.current;
    if (post === null) return;
    update(item.key, { state: "sending" });
    post.post({ text: item.text }).then(
      (posted) => update(item.key, { state: "sent", messageId: String(posted.id) }),
      (reason: unknown) => {
        const cutOff = reason instanceof RxGraphQLError && reason.code === ErrorCodes.DISCONNECTED;
        const why = cutOff ? "the connection dropped before the server answered; it may not have been sent" : describeError(reason);
        update(item.key, { state: "failed", reason: why });
      },
    );
  }, []);

  // Back online: send what waited, in order.
  useEffect(() => {
    if (status !== "connected") return;
    for (const item of items) if (item.state === "waiting") dispatch(item);
  }, [status, items, dispatch]);

  // Drop a sent item once its message is on the stream (no flicker between the answer and the patch).
  const arrived = new Set(messages.map((message) => message.id));
  const settled = items.filter((item) => item.state === "sent" && item.messageId !== undefined && arrived.has(item.messageId));
  useEffect(() => {
    if (settled.length === 0) return;
    const gone = new Set(settled.map((item) => item.key));
    setItems((current) => current.filter((item) => !gone.has(item.key)));
  });

  return {
    items: items.filter((item) => !settled.includes(item)),
    send(text) {
      outboxSequence += 1;
      const item: OutboxItem = { key: outboxSequence, text, state: "waiting" };
      setItems((current) => [...current, item]);
      if (status === "connected") dispatch(item);
    },
    retry(key) {
      const item = items.find((candidate) => candidate.key === key);
      if (item === undefined) return;
      if (status === "connected") dispatch(item);
      else update(key, { state: "waiting", reason: undefined });
    },
    discard(key) {
      setItems((current) => current.filter((item) => item.key !== key));
    },
  };
}

const LABEL: Record<OutboxState, string> = {
  waiting: "waiting for the connection…",
  sending: "sending…",
  sent: "sent",
  failed: "not sent",
};

export function PendingMessages(props: { readonly outbox: Outbox; readonly me: string }): ReactElement {
  return (
    <>
      {props.outbox.items.map((item) => (
        <li key={`pending-${item.key}`} className={`mine pending ${item.state}`} data-testid="pending-message" data-state={item.state}>
          <span className="author">{props.me}</span>
          <span className="text">
            {item.text}
            <small className="send-state">
              {" "}
              · {LABEL[item.state]}
              {item.reason !== undefined ? `: ${item.reason}` : ""}
            </small>
          </span>
          {item.state === "failed" && (
            <span className="send-actions">
              <button type="button" onClick={() => props.outbox.retry(item.key)}>
                Retry
              </button>
              <button type="button" onClick={() => props.outbox.discard(item.key)}>
                Discard
              </button>
            </span>
          )}
        </li>
      ))}
    </>
  );
}
