// One chat room, live: messages, who is typing (runtime state), and a composer whose sends are never
// silently lost (see Outbox.tsx).
import { useEffect, useRef, useState } from "react";
import type { FormEvent, ReactElement } from "react";
import { useChatRoomChannel } from "../generated/hooks";
import { describeError } from "../errors";
import type { Session } from "../session";
import { PendingMessages, useOutbox } from "./Outbox";

const TYPING_SHOWN_MS = 4_000;
const TYPING_SENT_EVERY_MS = 2_000;

export function ChatPage(props: { readonly roomId: string; readonly session: Session }): ReactElement {
  const { state, ready, error, runtime, actions, status } = useChatRoomChannel({ roomId: props.roomId });
  const [draft, setDraft] = useState("");
  const lastTypingSent = useRef(0);
  const typing = useRecentTyping(runtime?.typing ?? null, props.session.username);
  const outbox = useOutbox(actions, status, state?.messages ?? []);
  const bottom = useRef<HTMLLIElement | null>(null);
  const messageCount = (state?.messages.length ?? 0) + outbox.items.length;
  useEffect(() => {
    // A block body: recent browsers' scrollIntoView returns a promise, not a cleanup function.
    void bottom.current?.scrollIntoView({ block: "end" });
  }, [messageCount]);

  if (error !== null) return <p className="error" role="alert">This room is not available: {describeError(error)}</p>;
  if (state === null || !ready) return <p className="loading">Loading the room…</p>;

  const send = (event: FormEvent): void => {
    event.preventDefault();
    if (!draft.trim()) return;
    outbox.send(draft.trim());
    setDraft("");
  };
  const onDraft = (text: string): void => {
    setDraft(text);
    const now = Date.now();
    if (actions !== null && status === "connected" && text && now - lastTypingSent.current > TYPING_SENT_EVERY_MS) {
      lastTypingSent.current = now;
      actions.typing({}).catch(() => undefined);
    }
  };

  return (
    <section className="chat" data-testid="chat-room" data-room-id={state.id}>
      <h1># {state.name}</h1>
      <p className="participants">Participants: {state.participants.map((user) => user.username).join(", ")}</p>
      <ol className="messages" data-testid="messages">
        {state.messages.map((message) => (
          <li key={message.id} data-testid="message" className={message.author?.username === props.session.username ? "mine" : ""}>
            <span className="author">{message.author?.username ?? "?"}</span>
            <span className="text">{message.text}</span>
            <time dateTime={message.createdAt}>{new Date(message.createdAt).toLocaleTimeString()}</time>
          </li>
        ))}
        <PendingMessages outbox={outbox} me={props.session.username} />
        <li ref={bottom} className="end" aria-hidden="true" />
      </ol>
      <p className="typing" data-testid="typing" aria-live="polite">
        {typing.length > 0 ? `${typing.join(", ")} ${typing.length === 1 ? "is" : "are"} typing…` : "\u00a0"}
      </p>
      <form className="composer" onSubmit={send}>
        <input
          name="message"
          aria-label="Message"
          placeholder={`Message #${state.name}`}
          value={draft}
          onChange={(event) => onDraft(event.target.value)}
          autoComplete="off"
        />
        <button type="submit" disabled={!draft.trim()}>
          {status === "connected" ? "Send" : "Queue"}
        </button>
      </form>
    </section>
  );
}

/**
 * The room's `typing` runtime state lists who is typing (the server drops a name when that user's message is
 * posted, or a few seconds after their last keystroke notice); show those names except mine.
 */
function useRecentTyping(typing: readonly string[] | null, me: string): readonly string[] {
  const [shown, setShown] = useState<readonly string[]>([]);
  useEffect(() => {
    const others = (typing ?? []).filter((name) => name !== me);
    setShown(others);
    if (others.length === 0) return undefined;
    const timer = setTimeout(() => setShown([]), TYPING_SHOWN_MS);
    return () => clearTimeout(timer);
  }, [typing, me]);
  return shown;
}
