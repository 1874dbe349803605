"""The ``/graphql`` endpoint reads a request body up to ``MAX_REQUEST_BYTES``; beyond, it answers 413."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from schema_bridge.asgi import read_body


class Exchange:
    """An ASGI request's messages to receive, and what the app sent back."""

    def __init__(self, *messages: dict[str, Any]) -> None:
        self.incoming = list(messages)
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def answer(self) -> tuple[int, dict[str, Any]]:
        start, body = self.sent
        return start["status"], orjson.loads(body["body"])


def chunk(body: bytes, more: bool = False) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


@pytest.fixture(autouse=True)
def _small_limit(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "MAX_REQUEST_BYTES": 10}


async def test_the_chunks_of_a_body_within_the_limit_are_joined() -> None:
    exchange = Exchange(chunk(b"12345", more=True), chunk(b"67890"))
    assert await read_body({"headers": []}, exchange.receive, exchange.send) == b"1234567890"
    assert exchange.sent == []


async def test_a_declared_length_beyond_the_limit_is_refused_before_reading() -> None:
    exchange = Exchange()
    scope = {"headers": [(b"Content-Length", b"11")]}
    assert await read_body(scope, exchange.receive, exchange.send) is None
    status, body = exchange.answer()
    assert status == 413
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "The request body exceeds 10 bytes (MAX_REQUEST_BYTES)",
                "extensions": {"code": "LIMIT_EXCEEDED", "limit": "MAX_REQUEST_BYTES"},
            }
        ],
    }
    assert (b"connection", b"close") in exchange.sent[0]["headers"]


async def test_a_body_growing_beyond_the_limit_is_refused_whatever_its_declared_length() -> None:
    exchange = Exchange(chunk(b"123456", more=True), chunk(b"789012", more=True))
    scope = {"headers": [(b"content-length", b"5")]}
    assert await read_body(scope, exchange.receive, exchange.send) is None
    assert exchange.answer()[0] == 413
    assert exchange.incoming == []  # nothing read after the chunk that crossed the limit


async def test_a_client_that_leaves_gets_nothing() -> None:
    exchange = Exchange(chunk(b"123", more=True), {"type": "http.disconnect"})
    assert await read_body({"headers": []}, exchange.receive, exchange.send) is None
    assert exchange.sent == []
