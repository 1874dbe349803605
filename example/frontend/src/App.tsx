import { useEffect, useState } from "react";
import type { FormEvent, ReactElement } from "react";
import { Connection } from "./generated";
import type { ConnectionStatus } from "./generated";
import type { BoardSummaryState } from "./generated/types";
import { RxGraphQLProvider, useMyBoardsChannel } from "./generated/hooks";
import { useConnectionStatus } from "./generated/runtime/hooks.js";
import { AuthBanner } from "./AuthBanner";
import { BoardPage } from "./board/BoardPage";
import { ChatPage } from "./chat/ChatPage";
import { CardSearch } from "./search/CardSearch";
import { linkHandler, navigate, useRoute } from "./router";
import { loadSession, saveSession, signIn } from "./session";
import type { Session } from "./session";

function websocketUrl(): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/graphql`;
}

export function App(): ReactElement {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [connection, setConnection] = useState<Connection | null>(null);
  useEffect(() => {
    if (session === null) return undefined;
    const next = new Connection({
      url: websocketUrl(),
      token: session.token,
      // Keep the socket open while signed in (so the status shown is the socket's); retry at least every 5 s.
      lazy: false,
      retryMaxMs: 5_000,
    });
    setConnection(next);
    return () => {
      next.close();
      setConnection(null);
    };
  }, [session]);

  if (session === null || connection === null) {
    return (
      <Login
        onSignedIn={(next) => {
          saveSession(next);
          setSession(next);
        }}
      />
    );
  }
  const signOut = (): void => {
    saveSession(null);
    setSession(null);
    navigate("/");
  };
  return (
    <RxGraphQLProvider connection={connection}>
      <Shell session={session} connection={connection} onSignOut={signOut} />
    </RxGraphQLProvider>
  );
}

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  unauthorized: "Not signed in",
  closed: "Offline",
};

export function StatusBadge({ connection }: { readonly connection: Connection }): ReactElement {
  const status = useConnectionStatus(connection);
  return (
    <span className={`status status-${status}`} data-testid="connection-status" data-status={status}>
      {STATUS_TEXT[status]}
    </span>
  );
}

function Shell(props: {
  readonly session: Session;
  readonly connection: Connection;
  readonly onSignOut: () => void;
}): ReactElement {
  const { session } = props;
  const route = useRoute();
  return (
    <div className="app">
      <header className="topbar">
        <a href="/" onClick={linkHandler("/")} className="brand">
          rxgraphql example
        </a>
        <nav>
          {session.rooms.map((room) => (
            <a
              key={`chat-${room.id}`}
              href={`/chat/${room.id}`}
              onClick={linkHandler(`/chat/${room.id}`)}
              className={route.page === "chat" && route.id === room.id ? "active" : ""}
            >
              # {room.name}
            </a>
          ))}
          <BoardLinks route={route} />
          <a href="/graphql">GraphiQL</a>
        </nav>
        <StatusBadge connection={props.connection} />
        <span className="user" data-testid="signed-in-as">
          {session.username}
        </span>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <AuthBanner connection={props.connection} onSignOut={props.onSignOut} />
      <main>
        {route.page === "chat" ? (
          <ChatPage key={`chat-${route.id}`} roomId={route.id} session={session} />
        ) : route.page === "board" ? (
          <BoardPage key={`board-${route.id}`} boardId={route.id} session={session} />
        ) : (
          <Home session={session} />
        )}
      </main>
    </div>
  );
}

/** The top bar's boards, live from `myBoardsChannel`: a board created or shared with you appears at once. */
function BoardLinks({ route }: { readonly route: ReturnType<typeof useRoute> }): ReactElement {
  const { state } = useMyBoardsChannel({});
  return (
    <>
      {(state ?? []).map((board) => (
        <a
          key={`board-${board.id}`}
          href={`/board/${board.id}`}
          onClick={linkHandler(`/board/${board.id}`)}
          className={route.page === "board" && route.id === board.id ? "active" : ""}
          data-testid="topbar-board"
        >
          ▦ {board.title}
        </a>
      ))}
    </>
  );
}

function Home({ session }: { readonly session: Session }): ReactElement {
  return (
    <section className="home">
      <h1>Hello, {session.username}</h1>
      <p>
        Everything below is live: open the same room or board as another user in a second window (a private
        window, or another browser) and watch the changes arrive.
      </p>
      <h2>Chat rooms</h2>
      <ul>
        {session.rooms.map((room) => (
          <li key={room.id}>
            <a href={`/chat/${room.id}`} onClick={linkHandler(`/chat/${room.id}`)}>
              {room.name}
            </a>
          </li>
        ))}
      </ul>
      <h2>Boards</h2>
      <MyBoards />
      <h2>Find a card</h2>
      <CardSearch onPick={(card) => navigate(`/board/${card.column.board.id}`)} />
      <p>
        <a href="/graphql">GraphiQL</a> uses your sign-in in this tab; <a href="/admin/">the Django admin</a>{" "}
        changes show up here live too.
      </p>
    </section>
  );
}

/** The user's boards, live from the list channel: a board shared with you appears without a reload. */
function MyBoards(): ReactElement {
  const { state, error, actions } = useMyBoardsChannel({});
  const [title, setTitle] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const create = (event: FormEvent): void => {
    event.preventDefault();
    if (actions === null) return;
    setFailure(null);
    actions.createBoard({ title }).then(
      () => setTitle(""),
      (reason: unknown) => setFailure(reason instanceof Error ? reason.message : String(reason)),
    );
  };
  const form = (
    <form onSubmit={create} className="new-board">
      <input
        aria-label="New board title"
        value={title}
        onChange={(event) => setTitle(event.target.value)}
        placeholder="New board"
      />
      <button type="submit">Create board</button>
      {failure !== null && <span className="error">{failure}</span>}
    </form>
  );
  if (error !== null) return <p className="error">{error.message}</p>;
  if (state === null) return <p>Loading…</p>;
  return (
    <>
      {state.length === 0 ? <p>No boards yet.</p> : <BoardList boards={state} />}
      {form}
    </>
  );
}

function BoardList(props: { readonly boards: readonly BoardSummaryState[] }): ReactElement {
  return (
    <ul data-testid="my-boards">
      {props.boards.map((board) => (
        <li key={board.id}>
          <a href={`/board/${board.id}`} onClick={linkHandler(`/board/${board.id}`)}>
            {board.title}
          </a>{" "}
          <small>
            by {board.owner?.username ?? "?"} · {board.members.length} member
            {board.members.length === 1 ? "" : "s"}
          </small>
        </li>
      ))}
    </ul>
  );
}

function Login({ onSignedIn }: { readonly onSignedIn: (session: Session) => void }): ReactElement {
  const [username, setUsername] = useState("alice");
  const [password, setPassword] = useState("demo");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = (event: FormEvent): void => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    signIn(username, password).then(onSignedIn, (reason: unknown) => {
      setError(reason instanceof Error ? reason.message : String(reason));
      setBusy(false);
    });
  };
  return (
    <form className="login" onSubmit={submit} aria-label="Sign in">
      <h1>rxgraphql example</h1>
      <p>
        Sign in as a demo user: <code>alice</code>, <code>bob</code> or <code>carol</code>, password{" "}
        <code>demo</code>. Use a second window (private mode) to be another user at the same time.
      </p>
      <label>
        Username
        <input name="username" value={username} onChange={(e) => setUsername(e.target.value)} autoComplete="username" />
      </label>
      <label>
        Password
        <input
          name="password"
          type="password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          autoComplete="current-password"
        />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
      {error !== null && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
