// One board, live: who is viewing it, a card search, columns whose cards move by drag and drop, and the
// forms that add cards, columns and labels. Every write is optimistic where it can be (see writer.ts).
import { useMemo, useState } from "react";
import type { FormEvent, ReactElement } from "react";
import { useBoardChannel } from "../generated/hooks";
import type { BoardChannelActions, BoardState } from "../generated";
import { describeError } from "../errors";
import { offlineCache } from "../offline";
import type { Session } from "../session";
import { CardSearch } from "../search/CardSearch";
import { Columns } from "./Columns";
import { Viewers } from "./Viewers";
import { makeWriter } from "./writer";
import type { Writer } from "./writer";

export function BoardPage(props: { readonly boardId: string; readonly session: Session }): ReactElement {
  const { state, ready, error, actions, store } = useBoardChannel(
    { boardId: props.boardId },
    { persist: { cache: offlineCache, scope: props.session.userId } },
  );
  const [writeError, setWriteError] = useState<string | null>(null);
  const writer = useMemo(() => makeWriter(store, setWriteError), [store]);

  // a refused token keeps the last state on screen (the banner says so): not an unavailable board
  if (error !== null && error.code !== "UNAUTHORIZED") return <p className="error" role="alert">This board is not available: {describeError(error)}</p>;
  if (state === null || !ready || actions === null) return <p className="loading">Loading the board…</p>;

  const showCard = (cardId: string): void => {
    const element = document.querySelector<HTMLElement>(`[data-testid="card"][data-card-id="${cardId}"]`);
    if (element === null) return;
    element.scrollIntoView({ block: "center", inline: "center", behavior: "smooth" });
    element.classList.remove("flash");
    void element.offsetWidth; // restart the animation
    element.classList.add("flash");
  };

  return (
    <section className="board" data-testid="board" data-board-id={state.id}>
      <header className="board-head">
        <h1>{state.title}</h1>
        <Viewers boardId={state.id} me={props.session.username} />
        <CardSearch boardId={state.id} onPick={(card) => showCard(card.id)} />
      </header>
      <Labels state={state} actions={actions} writer={writer} />
      {writeError !== null && (
        <p className="error" role="alert" data-testid="write-error">
          {writeError}
          <button type="button" className="dismiss" onClick={() => setWriteError(null)} aria-label="Dismiss">
            ×
          </button>
        </p>
      )}
      <Columns state={state} actions={actions} writer={writer} session={props.session} />
      <AddColumn actions={actions} writer={writer} />
    </section>
  );
}

function AddColumn(props: { readonly actions: BoardChannelActions; readonly writer: Writer }): ReactElement {
  const [title, setTitle] = useState("");
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const cleaned = title.trim();
    if (!cleaned) return;
    setTitle("");
    void props.writer.call(() => props.actions.addColumn({ title: cleaned }));
  };
  return (
    <form className="add-column" onSubmit={submit}>
      <input aria-label="New column title" placeholder="New column" value={title} onChange={(e) => setTitle(e.target.value)} />
      <button type="submit" disabled={!title.trim()}>
        Add column
      </button>
    </form>
  );
}

const LABEL_COLORS = ["#d73a4a", "#0e8a16", "#1d76db", "#fbca04", "#5319e7", "#e99695"];

/** The board's labels, with a form to add one and a × to delete one. */
function Labels(props: {
  readonly state: BoardState;
  readonly actions: BoardChannelActions;
  readonly writer: Writer;
}): ReactElement {
  const { state, actions, writer } = props;
  const [name, setName] = useState("");
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    const cleaned = name.trim();
    if (!cleaned) return;
    setName("");
    const color = LABEL_COLORS[state.labels.length % LABEL_COLORS.length] ?? "#1d76db";
    void writer.call(() => actions.addLabel({ name: cleaned, color }));
  };
  return (
    <div className="board-meta">
      <span>Owner: {state.owner?.username ?? "?"}</span>
      <span className="labels" data-testid="labels">
        {state.labels.map((label) => (
          <span key={label.id} className="label" style={{ background: label.color }}>
            {label.name}
            <button
              type="button"
              aria-label={`Delete label ${label.name}`}
              onClick={() => void writer.call(() => actions.deleteLabel({ labelId: Number(label.id) }))}
            >
              ×
            </button>
          </span>
        ))}
      </span>
      <form className="add-label" onSubmit={submit}>
        <input aria-label="New label" placeholder="New label" value={name} onChange={(e) => setName(e.target.value)} />
      </form>
    </div>
  );
}
