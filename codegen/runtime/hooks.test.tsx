// @vitest-environment jsdom
import WebSocket from "ws";
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { memo, StrictMode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useChannel } from "./hooks.js";
import { ChannelStore } from "./store.js";
import { board, boardModel, card, column, event, smallBoard, snapshot } from "./testing/board.js";
import type { BoardState, NestedColumn } from "./testing/board.js";
import { TestServer, until } from "./testing/server.js";
import type { Operation } from "./testing/server.js";
import { Connection } from "./transport.js";

const QUERY = "subscription Board($boardId: ID!, $since: String) { boardChannel(boardId: $boardId, since: $since) { cursor } }";

let server: TestServer;
let connection: Connection;
const columnRenders = new Map<string, number>();

beforeEach(async () => {
  server = await TestServer.start();
  connection = new Connection({ url: server.url, webSocketImpl: WebSocket, retryDelay: () => 10, idleCloseMs: 0 });
  columnRenders.clear();
  server.onSubscribe = (op) => {
    const id = String(op.variables["boardId"]);
    server.next(op, { data: { boardChannel: snapshot(`e${id}.1`, id === "1" ? smallBoard() : [board(id, { name: `board${id}` })]) } });
  };
});

afterEach(async () => {
  cleanup();
  connection.close();
  await server.stop();
});

const ColumnView = memo(function ColumnView({ column }: { column: NestedColumn }) {
  columnRenders.set(column.id, (columnRenders.get(column.id) ?? 0) + 1);
  return <li data-testid={`column-${column.id}`}>{column.cards.map((c) => c.title).join(",")}</li>;
});

function Board({ boardId, store }: { boardId: string; store?: ChannelStore<BoardState> }) {
  const { state, ready, error, status } = useChannel<BoardState>(
    connection,
    boardModel,
    QUERY,
    { boardId },
    store === undefined ? {} : { store },
  );
  return (
    <div>
      <p data-testid="status">{status}</p>
      <p data-testid="ready">{String(ready)}</p>
      <p data-testid="error">{error?.code ?? ""}</p>
      <h1>{state?.name ?? "loading"}</h1>
      <ul>
        {state?.columns.map((c) => (
          <ColumnView key={c.id} column={c} />
        ))}
      </ul>
    </div>
  );
}

function lastOperation(): Operation {
  const op = server.operations[server.operations.length - 1];
  if (op === undefined) throw new Error("no operation");
  return op;
}

describe("useChannel", () => {
  it("subscribes once under StrictMode's double mount, and unsubscribes on unmount", async () => {
    const subscribeChannel = vi.spyOn(connection, "subscribeChannel");
    const view = render(
      <StrictMode>
        <Board boardId="1" />
      </StrictMode>,
    );
    expect(screen.getByRole("heading").textContent).toBe("loading");
    await screen.findByText("board1");
    expect(screen.getByTestId("ready").textContent).toBe("true");
    expect(screen.getByTestId("status").textContent).toBe("connected");
    // effects settled: exactly one subscription reached the server, one is active on the client
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.operations).toHaveLength(1);
    expect(server.activeOperations()).toHaveLength(1);
    expect(connection.activeChannels).toBe(1);
    expect(server.connections).toBe(1);
    expect(subscribeChannel).toHaveBeenCalledTimes(2); // StrictMode did mount, unmount and mount again

    view.unmount();
    expect(connection.activeChannels).toBe(0);
    await until(() => server.activeOperations().length === 0, 3000, "the server-side completion");
  });

  it("re-renders on patches, and only the components whose objects changed", async () => {
    render(<Board boardId="1" />);
    await screen.findByText("board1");
    expect(screen.getByTestId("column-c1").textContent).toBe("card1,card2");
    const rendersC2 = columnRenders.get("c2");
    await act(async () => {
      server.next(lastOperation(), { data: { boardChannel: event("e1.2", [card("2", { title: "edited" })]) } });
      await until(() => screen.getByTestId("column-c1").textContent === "card1,edited");
    });
    expect(columnRenders.get("c2")).toBe(rendersC2); // memo: the untouched column kept its identity
    await act(async () => {
      server.next(lastOperation(), { data: { boardChannel: event("e1.3", [column("c2", ["3", "1"])]) } });
      await until(() => screen.getByTestId("column-c2").textContent === "card3,card1");
    });
  });

  it("reports channel errors", async () => {
    server.onSubscribe = (op) => {
      server.next(op, { data: null, errors: [{ message: "Permission denied", extensions: { code: "FORBIDDEN" } }] });
      server.complete(op);
    };
    render(
      <StrictMode>
        <Board boardId="666" />
      </StrictMode>,
    );
    await waitFor(() => expect(screen.getByTestId("error").textContent).toBe("FORBIDDEN"));
    expect(screen.getByRole("heading").textContent).toBe("loading");
  });

  it("switches subscriptions when the variables change", async () => {
    const view = render(<Board boardId="1" />);
    await screen.findByText("board1");
    view.rerender(<Board boardId="2" />);
    await screen.findByText("board2");
    await until(() => server.activeOperations().length === 1);
    expect(server.activeOperations()[0]?.variables["boardId"]).toBe("2");
    expect(server.operations).toHaveLength(2);
  });

  it("resumes from a shared store after a remount", async () => {
    const store = new ChannelStore<BoardState>(boardModel);
    const first = render(<Board boardId="1" store={store} />);
    await screen.findByText("board1");
    first.unmount();
    render(<Board boardId="1" store={store} />);
    expect(screen.getByRole("heading").textContent).toBe("board1"); // state kept while resubscribing
    await until(() => server.operations.length === 2);
    expect(server.operations[1]?.variables).toEqual({ boardId: "1", since: "e1.1" });
  });

  it("two components reading one store open one server subscription, and the stream outlives the first unmount", async () => {
    const store = new ChannelStore<BoardState>(boardModel);
    const first = render(<Board boardId="1" store={store} />);
    const second = render(<Board boardId="1" store={store} />);
    await until(() => store.ready, 3000, "the snapshot");
    expect(server.operations).toHaveLength(1);
    expect(connection.activeChannels).toBe(1);
    await act(async () => {
      server.next(lastOperation(), { data: { boardChannel: event("e1.2", [card("2", { title: "edited" })]) } });
      await until(() => store.cursor === "e1.2");
    });
    expect(screen.getAllByTestId("column-c1").map((e) => e.textContent)).toEqual(["card1,edited", "card1,edited"]);
    first.unmount();
    expect(server.activeOperations()).toHaveLength(1);
    await act(async () => {
      server.next(lastOperation(), { data: { boardChannel: event("e1.3", [card("1", { title: "again" })]) } });
      await until(() => screen.getByTestId("column-c1").textContent === "again,edited");
    });
    second.unmount();
    await until(() => server.activeOperations().length === 0, 3000, "the server-side completion");
    expect(server.operations).toHaveLength(1);
  });

  it("says unauthorized, with the close code, after the server rejects the token", async () => {
    server.onInit = () => ({ close: 4403, reason: "Forbidden" });
    render(<Board boardId="1" />);
    await waitFor(() => expect(screen.getByTestId("status").textContent).toBe("unauthorized"));
    expect(screen.getByTestId("error").textContent).toBe("UNAUTHORIZED");
  });
});
