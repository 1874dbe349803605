"""Origins against a live server: another port or scheme of the same host is foreign, for the websocket
and for the session cookie over HTTP, whatever ALLOWED_HOSTS says."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from pytest_django.fixtures import Settings as SettingsWrapper
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from tests.support.live_server import LiveServer
from tests.support.world import BoardWorld

PROTOCOL = Subprotocol("graphql-transport-ws")


def _opens(server: LiveServer, origin: str) -> bool:
    async def scenario() -> bool:
        try:
            async with connect(
                server.ws_url, subprotocols=[PROTOCOL], additional_headers={"Origin": origin}
            ) as ws:
                await ws.send(json.dumps({"type": "connection_init"}))
                return json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "connection_ack"}
        except InvalidStatus as refused:
            status: int = refused.response.status_code
        assert status == 403
        return False

    return asyncio.run(scenario())


def _session_of(user_pk: int) -> str:
    session = SessionStore()
    session["_auth_user_id"] = str(user_pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    from django.contrib.auth.models import User

    session["_auth_user_hash"] = User.objects.get(pk=user_pk).get_session_auth_hash()
    session.create()
    return str(session.session_key)


def _me_with_cookie(server: LiveServer, session: str, origin: str) -> object:
    response = httpx.post(
        server.graphql_url,
        json={"query": "{ me }"},
        headers={"Cookie": f"sessionid={session}", "Origin": origin},
        timeout=10,
    )
    return response.json()["data"]["me"]


@pytest.mark.parametrize("allowed_hosts", [["127.0.0.1"], ["*"]])
def test_only_the_servers_own_origin(
    board_world: BoardWorld, rx_server: LiveServer, settings: SettingsWrapper, allowed_hosts: list[str]
) -> None:
    settings.ALLOWED_HOSTS = allowed_hosts
    port = rx_server.port
    foreign = [
        f"http://127.0.0.1:{port + 1}",
        f"https://127.0.0.1:{port}",
        "https://127.0.0.1",
        "http://evil.example",
    ]
    session = _session_of(board_world.bob.pk)
    for origin in foreign:
        assert not _opens(rx_server, origin), origin
        assert _me_with_cookie(rx_server, session, origin) is None, origin  # the cookie does not count
    assert _opens(rx_server, rx_server.url)
    assert _me_with_cookie(rx_server, session, rx_server.url) == "bob"


def test_an_explicit_setting_allows_the_dev_server(
    board_world: BoardWorld, rx_server: LiveServer, settings: SettingsWrapper
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "ALLOWED_ORIGINS": ["http://localhost:5173"]}
    assert _opens(rx_server, "http://localhost:5173")
    assert not _opens(rx_server, "http://localhost:5174")
