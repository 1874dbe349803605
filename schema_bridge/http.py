"""GraphQL over HTTP (queries, mutations, GraphiQL) with DRF token or Django session authentication.

A session cookie only counts when the request comes from an allowed origin, so a cross-site page cannot
run mutations with a visitor's session; tokens are sent explicitly and need no such check.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from rxgraphql.auth import BadCredentials, authenticate
from rxgraphql.conf import rx_settings

from .context import RxContext
from .graphiql import graphiql_page
from .origins import origin_allowed
from .schema import get_schema


class GraphQLHTTP(GraphQL[RxContext, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RxContext:
        authorization = request.headers.get("authorization")
        session_key = None
        if not authorization and origin_allowed(request.headers.get("origin"), request.headers.get("host")):
            morsel = SimpleCookie(request.headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
            session_key = morsel.value if morsel else None
        try:
            user = await authenticate(authorization, session_key)
        except BadCredentials:
            raise HTTPException(401, "Invalid credentials") from None
        return RxContext(user=user or AnonymousUser(), request=request, response=response)

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)

    @property
    def graphql_ide_html(self) -> str:
        """Strawberry's GraphiQL page (assets from a CDN) with a fetcher for the websocket, or the file
        ``RXGRAPHQL["GRAPHIQL_HTML"]`` names (e.g. a GraphiQL built from npm packages and served locally)."""
        local = rx_settings().graphiql_html
        return Path(local).read_text(encoding="utf-8") if local else graphiql_page(super().graphql_ide_html)


def graphql_http_app() -> GraphQLHTTP:
    return GraphQLHTTP(
        get_schema(),
        graphql_ide="graphiql" if rx_settings().graphiql else None,
        subscription_protocols=(),
    )
