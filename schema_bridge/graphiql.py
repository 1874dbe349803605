"""The default GraphiQL page: strawberry's, with a fetcher that runs subscriptions over the websocket.

Strawberry's page hands subscriptions to GraphiQL's toolkit, which in the CDN build cannot load its websocket
client (a subscription fails with "createFetcher is not properly configured for websocket subscriptions")
and sends no connection params. This fetcher speaks ``graphql-transport-ws`` itself (no other script to
load), sends the Headers tab's ``Authorization`` as the ``authorization`` param of ``connection_init`` (the
session cookie goes with the handshake anyway), and on FORBIDDEN says how to sign in.
"""

from __future__ import annotations

STRAWBERRY_FETCHER = """      const fetcher = GraphiQL.createFetcher({
        url: fetchURL,
        headers: defaultHeaders,
        subscriptionUrl,
      });"""

RX_FETCHER = """      const httpFetcher = GraphiQL.createFetcher({ url: fetchURL, headers: defaultHeaders });

      function authorizationOf(headers) {
        for (const [name, value] of Object.entries(headers || {})) {
          if (name.toLowerCase() === "authorization" && String(value).trim()) return String(value).trim();
        }
        return null;
      }

      function isSubscription(query, operationName) {
        const text = query.replace(/#[^\\n]*/g, "");
        if (operationName) return new RegExp("\\\\bsubscription\\\\s+" + operationName + "\\\\b").test(text);
        return /(^|[\\s}])subscription\\b/.test(text);
      }

      function showSignInHint() {
        if (document.getElementById("rx-signin-hint")) return;
        const hint = document.createElement("p");
        hint.id = "rx-signin-hint";
        hint.setAttribute("role", "status");
        hint.style.cssText =
          "margin:0;padding:.5rem 1rem;background:#fff8c5;color:#4d2d00;font:14px system-ui,sans-serif";
        hint.textContent =
          "FORBIDDEN: sign in to this site in this browser (the session cookie is sent, e.g. after " +
          "signing in to the Django admin), or put {\\"Authorization\\": \\"Token <key>\\"} in the " +
          "Headers tab.";
        document.body.insertBefore(hint, document.body.firstChild);
      }

      // One socket per subscription (graphql-transport-ws), authenticated in connection_init.
      function subscribeOverWebsocket(params, authorization) {
        return {
          subscribe(sink) {
            const socket = new WebSocket(subscriptionUrl, "graphql-transport-ws");
            let done = false;
            const finish = () => {
              done = true;
              if (socket.readyState === WebSocket.OPEN) {
                socket.send(JSON.stringify({ id: "1", type: "complete" }));
              }
              socket.close(1000);
            };
            socket.onopen = () =>
              socket.send(JSON.stringify({
                type: "connection_init",
                payload: authorization ? { authorization } : {},
              }));
            socket.onmessage = (event) => {
              const message = JSON.parse(event.data);
              if (message.type === "connection_ack") {
                socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: params }));
              } else if (message.type === "ping") {
                socket.send(JSON.stringify({ type: "pong" }));
              } else if (message.type === "next") {
                const errors = (message.payload && message.payload.errors) || [];
                if (errors.some((e) => e.extensions && e.extensions.code === "FORBIDDEN")) showSignInHint();
                sink.next(message.payload);
              } else if (message.type === "error") {
                sink.next({ errors: message.payload });
              } else if (message.type === "complete") {
                done = true;
                sink.complete();
                socket.close(1000);
              }
            };
            socket.onclose = (event) => {
              if (done) return;
              if (event.code === 4403) showSignInHint();
              const reason = event.reason ? ": " + event.reason : "";
              sink.error(new Error(`The websocket closed (${event.code}${reason})`));
            };
            return { unsubscribe: finish };
          },
        };
      }

      const fetcher = (params, options) =>
        isSubscription(params.query, params.operationName)
          ? subscribeOverWebsocket(params, authorizationOf(options && options.headers))
          : httpFetcher(params, options);"""


def graphiql_page(strawberry_page: str) -> str:
    """Strawberry's GraphiQL page with rxgraphql's fetcher; unchanged if its template no longer matches."""
    return strawberry_page.replace(STRAWBERRY_FETCHER, RX_FETCHER)
