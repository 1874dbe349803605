"""Introspection and GraphiQL can be switched off for production; both follow DEBUG unless set."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql.conf import rx_settings
from tests.support.live import LiveClient
from tests.support.live_server import LiveServer

INTROSPECTION = "{ __schema { queryType { name } } }"


def _post(server: LiveServer, query: str) -> httpx.Response:
    return httpx.post(server.graphql_url, json={"query": query}, timeout=10)


def test_both_follow_debug_unless_set(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {}
    for debug in (False, True):
        settings.DEBUG = debug
        assert (rx_settings().introspection, rx_settings().graphiql) == (debug, debug)


def test_introspection_and_graphiql_switched_off(
    rx_server: LiveServer, settings: SettingsWrapper, ws_client: Callable[[], LiveClient]
) -> None:
    assert _post(rx_server, INTROSPECTION).json()["data"]["__schema"]["queryType"]["name"] == "Query"
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "INTROSPECTION": False, "GRAPHIQL": False}
    body = _post(rx_server, INTROSPECTION).json()
    assert body["data"] is None
    assert "introspection has been disabled" in body["errors"][0]["message"]
    assert _post(rx_server, "{ __typename me }").json() == {"data": {"__typename": "Query", "me": None}}
    page = httpx.get(rx_server.graphql_url, headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 404
    client = ws_client().connect(None)
    refused = client.aio.run(client.subscribe(INTROSPECTION).next_message())
    assert refused.kind == "error"
    assert "introspection has been disabled" in refused.payload[0]["message"]
