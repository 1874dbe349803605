// GraphiQL with every asset bundled from npm (graphiql, react, react-dom, graphql-ws): no CDN needed.
// Django serves this page at GET /graphql when RXGRAPHQL["GRAPHIQL_HTML"] names the built graphiql.html.
//
// Authentication: the Headers tab's Authorization (prefilled with the DRF token of the example app's sign-in
// in this tab), sent over HTTP and in the websocket's connection_init; else the Django session cookie (sign
// in at /admin/). Anonymous visitors are told how to sign in. Query string: ?q=...&variables=... prefill the editors
// (not ?query=, which makes GET /graphql run the operation instead of serving this page).
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import type { Fetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { Kind, parse } from "graphql";
import { createClient } from "graphql-ws";
import type { Client } from "graphql-ws";
import { StrictMode, useEffect, useState } from "react";
import type { ReactElement } from "react";
import { createRoot } from "react-dom/client";
import { loadSession } from "./session";

const DEFAULT_QUERY = `# Live state of a chat room: the snapshot first, then a patch per change.
# Post a message in the app (or in the admin) while this runs.
subscription {
  chatRoomChannel(roomId: 1) {
    cursor reset ready
    records {
      __typename
      ... on ChatRoom { id name participants messages }
      ... on Message { id text createdAt author }
      ... on ChatUser { id username }
    }
    deleted { type id }
    runtime { typing }
  }
}
`;

const token = loadSession()?.token ?? null;
const httpUrl = `${window.location.origin}/graphql`;
const wsUrl = httpUrl.replace(/^http/, "ws");
const csrf = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie)?.[1];
// The Headers tab starts with this tab's sign-in; whatever it holds is sent over HTTP and, as the
// `authorization` connection param, in the websocket's `connection_init`.
const startHeaders: Record<string, string> = token !== null ? { Authorization: `Token ${token}` } : {};
const baseHeaders: Record<string, string> = csrf !== undefined ? { "X-CSRFToken": decodeURIComponent(csrf) } : {};

/** The Authorization value of the Headers tab (any case), or null. */
function authorizationOf(headers: unknown): string | null {
  if (headers === null || typeof headers !== "object") return null;
  for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
    if (name.toLowerCase() === "authorization" && typeof value === "string" && value.trim()) return value.trim();
  }
  return null;
}

// One websocket per Authorization value: editing the Headers tab reconnects with the new credentials.
// Without one, the socket still carries the Django session cookie (signed in at /admin/).
let socket: { authorization: string | null; client: Client } | null = null;
function wsClientFor(authorization: string | null): Client {
  if (socket !== null && socket.authorization === authorization) return socket.client;
  void socket?.client.dispose();
  const client = createClient({
    url: wsUrl,
    connectionParams: authorization !== null ? { authorization } : {},
    lazy: true,
  });
  socket = { authorization, client };
  return client;
}

/** Whether the operation that runs is a subscription (parsed here: the editor's parse may lag behind). */
function isSubscription(query: string, operationName: string | null | undefined): boolean {
  try {
    return parse(query).definitions.some(
      (definition) =>
        definition.kind === Kind.OPERATION_DEFINITION &&
        definition.operation === "subscription" &&
        (!operationName || definition.name?.value === operationName),
    );
  } catch {
    return false;
  }
}

// Subscriptions over the websocket (graphql-transport-ws), everything else over HTTP. The toolkit's fetcher
// gets the socket too, so a subscription it is handed directly also works.
const fetcher: Fetcher = (params, options) => {
  const client = wsClientFor(authorizationOf(options?.headers));
  if (isSubscription(params.query, params.operationName)) {
    return client.iterate({
      query: params.query,
      ...(params.operationName ? { operationName: params.operationName } : {}),
      ...(params.variables ? { variables: params.variables } : {}),
    }) as ReturnType<Fetcher>; // results as JSON: GraphiQL only displays them
  }
  return createGraphiQLFetcher({ url: httpUrl, headers: baseHeaders, wsClient: client })(params, options);
};

/** Shown when nobody is signed in: GraphiQL works, but the channels answer FORBIDDEN. */
function SignInHint(): ReactElement | null {
  const [anonymous, setAnonymous] = useState(false);
  useEffect(() => {
    if (token !== null) return;
    fetch(httpUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...baseHeaders },
      body: JSON.stringify({ query: "{ me }" }),
      credentials: "same-origin",
    })
      .then((answer) => answer.json())
      .then((body: { data?: { me?: string | null } }) => setAnonymous(body.data?.me == null))
      .catch(() => undefined);
  }, []);
  if (!anonymous) return null;
  return (
    <p className="signin-hint" data-testid="signin-hint" role="status">
      You are not signed in, so the channels answer FORBIDDEN. <a href="/">Sign in to the example app</a> in this tab
      (GraphiQL then uses its token), or <a href="/admin/login/?next=/graphql">sign in to the admin</a> (the session
      cookie works too), or put <code>{'{"Authorization": "Token <key>"}'}</code> in the Headers tab (
      <code>manage.py seed_demo</code> prints the demo users&apos; keys).
    </p>
  );
}

const params = new URLSearchParams(window.location.search);
const element = document.getElementById("graphiql");
if (element === null) throw new Error("graphiql.html has no #graphiql element");
element.textContent = "";
createRoot(element).render(
  <StrictMode>
    <SignInHint />
    <GraphiQL
      fetcher={fetcher}
      defaultHeaders={JSON.stringify(startHeaders, null, 2)}
      isHeadersEditorEnabled
      defaultQuery={DEFAULT_QUERY}
      {...(params.has("q") ? { query: params.get("q") ?? "" } : {})}
      {...(params.has("variables") ? { variables: params.get("variables") ?? "" } : {})}
      defaultEditorToolsVisibility={false}
    />
  </StrictMode>,
);
