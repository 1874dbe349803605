// Who is signed in. Kept in sessionStorage: each tab (and each browser context) is its own user.

export interface Place {
  readonly id: string;
  readonly name: string;
}

export interface Session {
  readonly token: string;
  readonly userId: string;
  readonly username: string;
  readonly rooms: readonly Place[];
  readonly boards: readonly Place[];
}

const KEY = "rxgraphql-example-session";

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session === null) sessionStorage.removeItem(KEY);
  else sessionStorage.setItem(KEY, JSON.stringify(session));
}

interface MeResponse {
  readonly id: number;
  readonly username: string;
  readonly rooms: ReadonlyArray<{ readonly id: number; readonly name: string }>;
  readonly boards: ReadonlyArray<{ readonly id: number; readonly title: string }>;
}

/** Exchange a username and password for a DRF token (POST /api/token/), then read /api/me/. */
export async function signIn(username: string, password: string): Promise<Session> {
  const answer = await fetch("/api/token/", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (answer.status === 400) throw new Error("Wrong username or password.");
  if (!answer.ok) throw new Error(`Sign-in failed (HTTP ${answer.status}).`);
  const { token } = (await answer.json()) as { token: string };
  const meAnswer = await fetch("/api/me/", { headers: { Authorization: `Token ${token}` } });
  if (!meAnswer.ok) throw new Error(`Could not read your rooms and boards (HTTP ${meAnswer.status}).`);
  const me = (await meAnswer.json()) as MeResponse;
  return {
    token,
    userId: String(me.id),
    username: me.username,
    rooms: me.rooms.map((room) => ({ id: String(room.id), name: room.name })),
    boards: me.boards.map((board) => ({ id: String(board.id), name: board.title })),
  };
}
