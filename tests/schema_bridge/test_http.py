"""GraphQL over HTTP: who the request is (token, or a session cookie from an allowed origin), GraphiQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from pytest_django.fixtures import Settings as SettingsWrapper

from schema_bridge.http import graphql_http_app
from tests.support.world import make_user, session_key_of

pytestmark = pytest.mark.django_db(transaction=True)
URL = "http://127.0.0.1:8000/graphql"


async def _post(
    body: Any, headers: dict[str, str] | None = None, content: bytes | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=graphql_http_app())
    async with httpx.AsyncClient(transport=transport) as client:
        if content is not None:
            return await client.post(URL, content=content, headers={"content-type": "application/json"})
        return await client.post(URL, json=body, headers=headers or {})


async def _me(headers: dict[str, str] | None = None) -> Any:
    response = await _post({"query": "{ me }"}, headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]["me"]


async def test_no_credentials_is_anonymous() -> None:
    assert await _me() is None


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
async def test_a_token_is_its_user(scheme: str) -> None:
    _, key = await sync_to_async(make_user)("ann")
    assert await _me({"authorization": f"{scheme} {key}"}) == "ann"


async def test_wrong_credentials_are_a_401() -> None:
    response = await _post({"query": "{ me }"}, {"authorization": "Token wrong"})
    assert response.status_code == 401


async def test_a_session_cookie_counts_only_from_an_allowed_origin() -> None:
    user, _ = await sync_to_async(make_user)("ann")
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={await sync_to_async(session_key_of)(user)}"
    assert await _me({"cookie": cookie}) == "ann"  # no Origin: not a browser's cross-site request
    assert await _me({"cookie": cookie, "origin": "http://127.0.0.1:8000"}) == "ann"
    assert await _me({"cookie": cookie, "origin": "https://evil.example"}) is None


async def test_malformed_json_is_a_400() -> None:
    assert (await _post(None, content=b'{"query": ')).status_code == 400
    deep = b'{"query": "{ me }", "variables": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    assert (await _post(None, content=deep)).status_code == 400


async def _graphiql() -> httpx.Response:
    transport = httpx.ASGITransport(app=graphql_http_app())
    async with httpx.AsyncClient(transport=transport) as client:
        return await client.get(URL, headers={"accept": "text/html"})


async def test_graphiql_is_served_only_while_switched_on(settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "GRAPHIQL": False}
    assert (await _graphiql()).status_code == 404
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "GRAPHIQL": True, "GRAPHIQL_HTML": None}
    page = await _graphiql()
    assert page.status_code == 200
    assert "graphql-transport-ws" in page.text  # strawberry's page with the websocket fetcher
    local = tmp_path / "graphiql.html"
    local.write_text("<html>local graphiql</html>", encoding="utf-8")
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "GRAPHIQL_HTML": str(local)}
    assert (await _graphiql()).text == "<html>local graphiql</html>"
