/**
 * Follows one channel with a standard GraphQL client, as an app would use it out of the box, and prints
 * each subscription result as the client hands it over (one JSON line each):
 *
 *   node standard-clients.mjs --client apollo|urql --url ws://HOST/graphql --token KEY \
 *        --document FILE --variables JSON --field boardChannel
 *
 * - apollo: `@apollo/client` with `GraphQLWsLink` and the default `InMemoryCache` (results pass through the
 *   normalized cache, so records and deleted refs are keyed by `__typename` and `id`);
 * - urql: `@urql/core` with its default exchanges (document cache) and `subscriptionExchange` over graphql-ws.
 *
 * A line on stdin ends the program.
 */
import { readFileSync } from "node:fs";
import WebSocket from "ws";
import { createClient as createWsClient } from "graphql-ws";
import { ApolloClient, InMemoryCache, gql } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { Client as UrqlClient, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";

function option(name) {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : undefined;
  if (value === undefined) {
    process.stderr.write(`missing --${name}\n`);
    process.exit(2);
  }
  return value;
}

const kind = option("client");
const url = option("url");
const document = readFileSync(option("document"), "utf8");
const variables = JSON.parse(option("variables"));
const field = option("field");
const print = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const ws = createWsClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Token ${option("token")}` },
  on: { connected: () => print({ status: "connected" }) },
});

const deliver = (data, error) => {
  if (error) print({ error: String(error.message ?? error) });
  else print({ event: data?.[field] ?? null });
};

let stop;
if (kind === "apollo") {
  const client = new ApolloClient({ link: new GraphQLWsLink(ws), cache: new InMemoryCache() });
  const subscription = client.subscribe({ query: gql(document), variables }).subscribe({
    next: (result) => deliver(result.data, result.error),
    error: (error) => deliver(null, error),
  });
  stop = () => subscription.unsubscribe();
} else if (kind === "urql") {
  const client = new UrqlClient({
    url: url.replace(/^ws/, "http"),
    exchanges: [
      cacheExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || "" };
          return {
            subscribe(sink) {
              return { unsubscribe: ws.subscribe(input, sink) };
            },
          };
        },
      }),
      fetchExchange,
    ],
  });
  const subscription = client.subscription(document, variables).subscribe((result) => deliver(result.data, result.error));
  stop = () => subscription.unsubscribe();
} else {
  process.stderr.write(`unknown --client ${kind}\n`);
  process.exit(2);
}

process.stdin.on("data", () => {
  stop();
  void ws.dispose();
  process.exit(0);
});
