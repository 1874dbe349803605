"""The default GraphiQL page's websocket fetcher, run by Node against the live server.

Strawberry's page loads GraphiQL from a CDN, which the tests cannot reach; the fetcher rxgraphql puts in
it is plain JavaScript, so it runs here with the ``ws`` package standing in for the browser's WebSocket and
a stub ``document`` that records the sign-in hint.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import strawberry.asgi

from schema_bridge.graphiql import RX_FETCHER, STRAWBERRY_FETCHER, graphiql_page
from schema_bridge.schema import get_schema
from tests.support.live_server import LiveServer
from tests.support.world import BoardWorld, make_room

WS_MODULE = Path(__file__).resolve().parents[1] / "node" / "node_modules" / "ws" / "wrapper.mjs"

HARNESS = """
import { WebSocket } from %(ws)s;
globalThis.WebSocket = WebSocket;
const hints = [];
globalThis.document = {
  getElementById: () => null,
  createElement: () => ({ style: {}, setAttribute() {}, set textContent(text) { hints.push(text); } }),
  body: { insertBefore() {}, firstChild: null },
};
const GraphiQL = { createFetcher: () => () => { throw new Error("a subscription went over HTTP"); } };
const fetchURL = %(http)s;
const defaultHeaders = {};
const subscriptionUrl = %(ws_url)s;
%(fetcher)s
const [query, headers] = JSON.parse(process.argv[2]);
const timer = setTimeout(() => { console.log(JSON.stringify({ timeout: true })); process.exit(1); }, 20000);
const subscription = fetcher({ query }, { headers }).subscribe({
  next(payload) {
    console.log(JSON.stringify({ payload, hints }));
    subscription.unsubscribe();
    clearTimeout(timer);
  },
  error(error) { console.log(JSON.stringify({ error: String(error), hints })); clearTimeout(timer); },
  complete() {},
});
"""


def run_fetcher(server: LiveServer, tmp_path: Path, query: str, headers: dict[str, str]) -> Any:
    script = tmp_path / "fetcher.mjs"
    script.write_text(
        HARNESS
        % {
            "ws": json.dumps(WS_MODULE.as_uri()),
            "http": json.dumps(server.graphql_url),
            "ws_url": json.dumps(server.ws_url),
            "fetcher": RX_FETCHER,
        }
    )
    result = subprocess.run(
        ["node", str(script), json.dumps([query, headers])], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_strawberrys_page_gets_the_websocket_fetcher() -> None:
    page = strawberry.asgi.GraphQL(get_schema(), graphql_ide="graphiql").graphql_ide_html
    assert STRAWBERRY_FETCHER in page  # strawberry's template still has the block the page replaces
    served = graphiql_page(page)
    assert STRAWBERRY_FETCHER not in served
    assert RX_FETCHER in served


def test_the_served_page_is_the_patched_one(rx_server: LiveServer, settings: Any) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "GRAPHIQL_HTML": None}
    page = httpx.get(rx_server.graphql_url, headers={"Accept": "text/html"}, timeout=10).text
    assert "connection_init" in page
    assert STRAWBERRY_FETCHER not in page


def test_the_headers_tab_token_reaches_connection_init(
    board_world: BoardWorld, rx_server: LiveServer, tmp_path: Path
) -> None:
    room = make_room("graphiql", board_world.alice, board_world.bob)
    query = f"subscription {{ chatRoomChannel(roomId: {room.pk}) {{ ready records {{ __typename }} }} }}"
    allowed = run_fetcher(
        rx_server, tmp_path, query, {"authorization": f"Token {board_world.token(board_world.bob)}"}
    )
    assert allowed["payload"]["data"]["chatRoomChannel"]["records"], allowed
    assert allowed["hints"] == []

    anonymous = run_fetcher(rx_server, tmp_path, query, {})
    assert anonymous["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "Headers tab" in anonymous["hints"][0]
