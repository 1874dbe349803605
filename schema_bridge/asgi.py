"""The ``/graphql`` endpoint as one ASGI app: HTTP through strawberry, websockets through our server.

An HTTP request body is read here, up to ``MAX_REQUEST_BYTES`` (413 beyond), before strawberry sees it:
the endpoint is not behind Django's handler, so ``DATA_UPLOAD_MAX_MEMORY_SIZE`` does not apply.
"""

from __future__ import annotations

from typing import Any

import orjson

from rxgraphql.conf import rx_settings
from rxgraphql.errors import ErrorCode

from .daphne_close import allow_registered_close_codes
from .http import graphql_http_app
from .threads import current_request, install_sync_pool
from .websocket import Receive, Send, graphql_websocket


class GraphQLEndpoint:
    def __init__(self) -> None:
        self.http = graphql_http_app()
        install_sync_pool(rx_settings().sync_threads)
        allow_registered_close_codes()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await graphql_websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        current_request.set(object())  # this task's share of the sync threads
        body = await read_body(scope, receive, send)
        if body is None:
            return
        delivered = False

        async def replay() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.http(scope, replay, send)  # type: ignore[arg-type]


async def read_body(scope: dict[str, Any], receive: Receive, send: Send) -> bytes | None:
    """The whole request body, or None once a 413 was answered (or the client left)."""
    limit = rx_settings().max_request_bytes
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length" and value.isdigit() and int(value) > limit:
            await too_large(send, limit)
            return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await too_large(send, limit)
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def too_large(send: Send, limit: int) -> None:
    error = {
        "message": f"The request body exceeds {limit} bytes (MAX_REQUEST_BYTES)",
        "extensions": {"code": ErrorCode.LIMIT_EXCEEDED.value, "limit": "MAX_REQUEST_BYTES"},
    }
    body = orjson.dumps({"data": None, "errors": [error]})
    await send(
        {
            "type": "http.response.start",
            "status": ErrorCode.LIMIT_EXCEEDED.status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})
