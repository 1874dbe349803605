// Card search over the ordinary (not live) API: the strawberry-django `cards` query, through the generated
// `cardsQuery` (filters, ordering, pagination). Answers that arrive after a newer search are dropped.
import { useEffect, useRef, useState } from "react";
import type { ReactElement } from "react";
import { cardsQuery } from "../generated";
import type { CardsQueryResult } from "../generated";
import { useRxConnection } from "../generated/hooks";
import { describeError } from "../errors";

export type FoundCard = CardsQueryResult["results"][number];

const PAGE = 8;
const TYPING_PAUSE_MS = 250;

export function CardSearch(props: {
  /** Search this board only; all of the user's boards when absent. */
  readonly boardId?: string;
  readonly onPick: (card: FoundCard) => void;
}): ReactElement {
  const connection = useRxConnection();
  const [text, setText] = useState("");
  const [found, setFound] = useState<CardsQueryResult | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const latest = useRef(0);
  const { boardId } = props;

  useEffect(() => {
    const search = text.trim();
    latest.current += 1;
    const asked = latest.current;
    if (!search || connection === null) {
      setFound(null);
      setFailure(null);
      return undefined;
    }
    const timer = setTimeout(() => {
      cardsQuery(connection, {
        filters: { search, ...(boardId !== undefined ? { board: boardId } : {}) },
        ordering: [{ title: "ASC" }],
        pagination: { limit: PAGE },
      }).then(
        (result) => {
          if (asked !== latest.current) return;
          setFound(result);
          setFailure(null);
        },
        (reason: unknown) => {
          if (asked === latest.current) setFailure(describeError(reason));
        },
      );
    }, TYPING_PAUSE_MS);
    return () => clearTimeout(timer);
  }, [text, boardId, connection]);

  return (
    <div className="search" role="search">
      <input
        type="search"
        aria-label="Search cards"
        placeholder={boardId !== undefined ? "Search this board" : "Search cards on all your boards"}
        value={text}
        onChange={(event) => setText(event.target.value)}
      />
      {failure !== null && <p className="error">{failure}</p>}
      {found !== null && (
        <div className="search-results" data-testid="search-results" data-total={found.totalCount}>
          {found.results.length === 0 ? (
            <p className="muted">No card matches “{text.trim()}”.</p>
          ) : (
            <ul>
              {found.results.map((card) => (
                <li key={card.id}>
                  <button
                    type="button"
                    data-testid="search-result"
                    data-card-id={card.id}
                    onClick={() => {
                      setText("");
                      props.onPick(card);
                    }}
                  >
                    <strong>{card.title}</strong>
                    <small>
                      {boardId === undefined ? `${card.column.board.title} · ` : ""}
                      {card.column.title}
                      {card.assignee !== null ? ` · @${card.assignee.username}` : ""}
                    </small>
                  </button>
                </li>
              ))}
            </ul>
          )}
          {found.totalCount > found.results.length && (
            <p className="muted">
              {found.results.length} of {found.totalCount} cards
            </p>
          )}
        </div>
      )}
    </div>
  );
}
