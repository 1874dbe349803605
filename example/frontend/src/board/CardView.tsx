// One card: its title (click to edit), people, labels and estimate, a "Move to…" menu (the keyboard-free
// alternative to dragging), delete, and its comments. Edits are optimistic writes (see writer.ts).
import { useRef, useState } from "react";
import type { FormEvent, ReactElement, ReactNode } from "react";
import type { BoardChannelActions, CardState, ColumnState } from "../generated";
import type { Session } from "../session";
import type { Mover } from "./Columns";
import type { Writer } from "./writer";

/** What a card shows without its controls (also the picture that follows the pointer while dragging). */
export function CardFace(props: { readonly card: CardState; readonly overlay?: boolean }): ReactElement {
  const { card } = props;
  return (
    <article className={`card${props.overlay ? " overlay" : ""}`}>
      <h3 className="card-title">{card.title || <em>(untitled)</em>}</h3>
      <CardMeta card={card} />
    </article>
  );
}

function CardMeta({ card }: { readonly card: CardState }): ReactElement {
  return (
    <p className="card-meta">
      {card.assignee !== null && <span className="assignee">@{card.assignee.username}</span>}
      {card.labels.map((label) => (
        <span key={label.id} className="label" style={{ background: label.color }}>
          {label.name}
        </span>
      ))}
      {card.estimate !== null && <span className="estimate">{card.estimate} d</span>}
    </p>
  );
}

export function CardView(props: {
  readonly card: CardState;
  readonly column: ColumnState;
  readonly columns: readonly ColumnState[];
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
  readonly session: Session;
  readonly mover: Mover;
  readonly handle: ReactNode;
}): ReactElement {
  const { card, column, columns, actions, writer, mover } = props;
  const [editing, setEditing] = useState(false);
  const [showComments, setShowComments] = useState(false);

  const moveTo = (targetId: string): void => {
    const target = columns.find((candidate) => candidate.id === targetId);
    if (target === undefined || target.id === column.id) return;
    mover.move(card, column.id, target.id, target.cards.length);
  };
  const rename = (title: string): void => {
    setEditing(false);
    if (title === card.title) return;
    void writer.run({ upserts: [{ __typename: "Card", id: card.id, title }] }, () =>
      actions.saveCard({ id: card.id, data: { title } }),
    );
  };
  const remove = (): void => {
    void writer.run(
      {
        removeRefs: [{ type: "Column", id: column.id, field: "cards", ref: card.id }],
        deletes: [{ type: "Card", id: card.id }],
      },
      () => actions.deleteCard({ id: card.id }),
    );
  };

  return (
    <article className="card" data-testid="card" data-card-id={card.id} data-card-title={card.title}>
      <div className="card-head">
        {props.handle}
        {editing ? (
          <TitleEditor initial={card.title} onDone={rename} onCancel={() => setEditing(false)} />
        ) : (
          <h3 className="card-title" title="Click to edit" onClick={() => setEditing(true)} data-testid="card-title">
            {card.title || <em>(untitled)</em>}
          </h3>
        )}
      </div>
      <CardMeta card={card} />
      <div className="card-actions">
        <select aria-label="Move to column" value="" onChange={(event) => moveTo(event.target.value)} data-testid="move-card">
          <option value="">Move to…</option>
          {columns
            .filter((other) => other.id !== column.id)
            .map((other) => (
              <option key={other.id} value={other.id}>
                {other.title}
              </option>
            ))}
        </select>
        <button type="button" onClick={() => setShowComments(!showComments)} data-testid="toggle-comments">
          Comments ({card.comments.length})
        </button>
        <button type="button" onClick={remove} data-testid="delete-card" aria-label={`Delete ${card.title || "card"}`}>
          Delete
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
        <input aria-label="Comment" placeholder="Add a comment" value={text} onChange={(event) => setText(event.target.value)} />
        <button type="submit" disabled={!text.trim()}>
          Comment
        </button>
      </form>
    </div>
  );
}
