import { useRef, useState } from "react";
import type { FormEvent, ReactElement } from "react";
import type { BoardChannelActions, BoardState, CardState, ChannelStore, ColumnState } from "./generated";
import type { OptimisticChange } from "./generated/runtime/index.js";
import { useBoardChannel } from "./generated/hooks";
import { describeError, describeFieldErrors } from "./errors";
import { offlineCache } from "./offline";
import type { Session } from "./session";

/** What every write of the board answers (`<Type>WriteResult`). */
interface WriteResult {
  readonly ok: boolean;
  readonly code: number;
  readonly message: string;
  readonly errors: unknown;
  readonly record: { readonly id: string } | null;
  /** The position of the write's commit in the board's stream: the optimistic layer settles there. */
  readonly cursor?: string | null;
}

interface Writer {
  /**
   * Show `change` at once as an optimistic layer, send the write, then commit the layer (mapping temporary
   * ids to the server's) or roll it back exactly when the server refuses or the request fails.
   */
  run(change: OptimisticChange, send: () => Promise<WriteResult>, tempId?: string): Promise<boolean>;
  /** A temporary id for a record created optimistically (replaced by the server's id on commit). */
  tempId(): string;
}

let writeSequence = 0;

function useWriter(store: ChannelStore<BoardState>, onError: (message: string | null) => void): Writer {
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
  };
}

export function BoardPage(props: { readonly boardId: string; readonly session: Session }): ReactElement {
  const { state, ready, error, actions, store } = useBoardChannel(
    { boardId: props.boardId },
    { persist: { cache: offlineCache, scope: props.session.userId } },
  );
  const [writeError, setWriteError] = useState<string | null>(null);
  const writer = useWriter(store, setWriteError);

  // a refused token keeps the last state on screen (the banner says so): not an unavailable board
  if (error !== null && error.code !== "UNAUTHORIZED") return <p className="error" role="alert">This board is not available: {describeError(error)}</p>;
  if (state === null || !ready || actions === null) return <p className="loading">Loading the board…</p>;

  return (
    <section className="board" data-testid="board" data-board-id={state.id}>
      <h1>{state.title}</h1>
      <p className="board-meta">
        Owner: {state.owner?.username ?? "?"} · Labels:{" "}
        {state.labels.map((label) => (
          <span key={label.id} className="label" style={{ background: label.color }}>
            {label.name}
          </span>
        ))}
      </p>
      {writeError !== null && (
        <p className="error" role="alert" data-testid="write-error">
          {writeError}
        </p>
      )}
      <div className="columns">
        {state.columns.map((column) => (
          <section key={column.id} className="column" data-testid="column" data-column-title={column.title}>
            <h2>
              {column.title} <span className="count">{column.cards.length}</span>
            </h2>
            {column.cards.map((card) => (
              <Card
                key={card.id}
                card={card}
                column={column}
                columns={state.columns}
                actions={actions}
                writer={writer}
                session={props.session}
              />
            ))}
          </section>
        ))}
      </div>
    </section>
  );
}

function Card(props: {
  readonly card: CardState;
  readonly column: ColumnState;
  readonly columns: readonly ColumnState[];
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
  readonly session: Session;
}): ReactElement {
  const { card, column, columns, actions, writer } = props;
  const [editing, setEditing] = useState(false);
  const [showComments, setShowComments] = useState(false);

  const moveTo = (targetId: string): void => {
    const target = columns.find((candidate) => candidate.id === targetId);
    if (target === undefined || target.id === column.id) return;
    const position = target.cards.reduce((last, other) => Math.max(last, other.position), -1) + 1;
    void writer.run(
      {
        upserts: [{ __typename: "Card", id: card.id, column: target.id, position }],
        insertRefs: [{ type: "Column", id: target.id, field: "cards", ref: card.id }],
        removeRefs: [{ type: "Column", id: column.id, field: "cards", ref: card.id }],
      },
      () => actions.saveCard({ id: card.id, data: { column: target.id, position } }),
    );
  };
  const rename = (title: string): void => {
    setEditing(false);
    if (title === card.title) return;
    void writer.run({ upserts: [{ __typename: "Card", id: card.id, title }] }, () =>
      actions.saveCard({ id: card.id, data: { title } }),
    );
  };

  return (
    <article className="card" data-testid="card" data-card-id={card.id} data-card-title={card.title}>
      {editing ? (
        <TitleEditor initial={card.title} onDone={rename} onCancel={() => setEditing(false)} />
      ) : (
        <h3 className="card-title" title="Click to edit" onClick={() => setEditing(true)} data-testid="card-title">
          {card.title || <em>(untitled)</em>}
        </h3>
      )}
      <p className="card-meta">
        {card.assignee !== null && <span className="assignee">@{card.assignee.username}</span>}
        {card.labels.map((label) => (
          <span key={label.id} className="label" style={{ background: label.color }}>
            {label.name}
          </span>
        ))}
        {card.estimate !== null && <span className="estimate">{card.estimate} d</span>}
      </p>
      <div className="card-actions">
        <select
          aria-label="Move to column"
          value=""
          onChange={(event) => moveTo(event.target.value)}
          data-testid="move-card"
        >
          <option value="">Move to…</option>
          {columns
            .filter((other) => other.id !== column.id)
            .map((other) => (
              <option key={other.id} value={other.id}>
                {other.title}
              </option>
            ))}
        </select>
        <button type="button" onClick={() => setEditing(true)}>
          Edit
        </button>
        <button type="button" onClick={() => setShowComments(!showComments)} data-testid="toggle-comments">
          Comments ({card.comments.length})
        </button>
      </div>
      {showComments && <Comments card={card} actions={actions} writer={writer} session={props.session} />}
    </article>
  );
}

function TitleEditor(props: {
  readonly initial: string;
  readonly onDone: (title: string) => void;
  readonly onCancel: () => void;
}): ReactElement {
  const [title, setTitle] = useState(props.initial);
  const done = useRef(false);
  const finish = (save: boolean): void => {
    if (done.current) return;
    done.current = true;
    if (save) props.onDone(title);
    else props.onCancel();
  };
  return (
    <form
      className="title-editor"
      onSubmit={(event: FormEvent) => {
        event.preventDefault();
        finish(true);
      }}
    >
      <input
        aria-label="Card title"
        value={title}
        autoFocus
        onChange={(event) => setTitle(event.target.value)}
        onBlur={() => finish(true)}
        onKeyDown={(event) => {
          if (event.key === "Escape") finish(false);
        }}
      />
    </form>
  );
}

function Comments(props: {
  readonly card: CardState;
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
  readonly session: Session;
}): ReactElement {
  const { card, actions, writer, session } = props;
  const [text, setText] = useState("");
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const cleaned = text.trim();
    if (!cleaned) return;
    const tempId = writer.tempId();
    setText("");
    void writer.run(
      {
        upserts: [
          { __typename: "Comment", id: tempId, text: cleaned, createdAt: new Date().toISOString(), author: session.userId },
        ],
        insertRefs: [{ type: "Card", id: card.id, field: "comments", ref: tempId }],
      },
      () => actions.createComment({ data: { text: cleaned, card: card.id, author: session.userId } }),
      tempId,
    );
  };
  return (
    <div className="comments" data-testid="comments">
      <ul>
        {card.comments.map((comment) => (
          <li key={comment.id} data-testid="comment">
            <span className="author">{comment.author?.username ?? "?"}</span> {comment.text}
          </li>
        ))}
      </ul>
      <form className="comment-form" onSubmit={submit}>
        <input
          aria-label="Comment"
          placeholder="Add a comment"
          value={text}
          onChange={(event) => setText(event.target.value)}
        />
        <button type="submit" disabled={!text.trim()}>
          Comment
        </button>
      </form>
    </div>
  );
}
