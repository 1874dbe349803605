// GraphiQL with every asset bundled from npm (graphiql, react, react-dom, graphql-ws): no CDN needed.
// Django serves this page at GET /graphql when RXGRAPHQL["GRAPHIQL_HTML"] names the built graphiql.html.
//
// Authentication: the DRF token of the example app's sign-in in this tab (sessionStorage), else the
// Django session cookie (sign in at /admin/). Query string: ?q=...&variables=... prefill the editors
// (not ?query=, which makes GET /graphql run the operation instead of serving this page).
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import type { Fetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { Kind, parse } from "graphql";
import { createClient } from "graphql-ws";
import { StrictMode } from "react";
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
const headers: Record<string, string> = {};
if (token !== null) headers["Authorization"] = `Token ${token}`;
else if (csrf !== undefined) headers["X-CSRFToken"] = decodeURIComponent(csrf);

const wsClient = createClient({
  url: wsUrl,
  connectionParams: () => (token === null ? {} : { authorization: `Token ${token}` }),
});
const httpFetcher = createGraphiQLFetcher({ url: httpUrl, headers });

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

// Subscriptions over the websocket (graphql-transport-ws), everything else over HTTP.
const fetcher: Fetcher = (params, options) =>
  isSubscription(params.query, params.operationName)
    ? (wsClient.iterate({
        query: params.query,
        ...(params.operationName ? { operationName: params.operationName } : {}),
        ...(params.variables ? { variables: params.variables } : {}),
      }) as ReturnType<Fetcher>) // results as JSON: GraphiQL only displays them
    : httpFetcher(params, options);

const params = new URLSearchParams(window.location.search);
const element = document.getElementById("graphiql");
if (element === null) throw new Error("graphiql.html has no #graphiql element");
element.textContent = "";
createRoot(element).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={DEFAULT_QUERY}
      {...(params.has("q") ? { query: params.get("q") ?? "" } : {})}
      {...(params.has("variables") ? { variables: params.get("variables") ?? "" } : {})}
      defaultEditorToolsVisibility={false}
    />
  </StrictMode>,
);
