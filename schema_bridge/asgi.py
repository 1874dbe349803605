"""The ``/graphql`` endpoint as one ASGI app: HTTP through strawberry, websockets through our server."""

from __future__ import annotations

from typing import Any

from .http import graphql_http_app
from .websocket import Receive, Send, graphql_websocket


class GraphQLEndpoint:
    def __init__(self) -> None:
        self.http = graphql_http_app()

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await graphql_websocket(scope, receive, send)
        else:
            await self.http(scope, receive, send)  # type: ignore[arg-type]
