"""GraphQL over HTTP (queries, mutations, GraphiQL) with DRF token or Django session authentication.

A session cookie only counts when the request comes from an allowed origin, so a cross-site page cannot
run mutations with a visitor's session; tokens are sent explicitly and need no such check. JSON bodies are
read by orjson (malformed or too deeply nested: 400), and documents are prepared off the event loop
within the limits of ``limits.py`` before strawberry runs them.
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
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from rxgraphql.auth import BadCredentials, authenticate
from rxgraphql.conf import rx_settings

from .context import RxContext
from .documents import current_document, prepare_async
from .graphiql import graphiql_page
from .origins import origin_allowed, request_scheme
from .schema import get_schema


class GraphQLHTTP(GraphQL[RxContext, None]):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> RxContext:
        authorization = request.headers.get("authorization")
        session_key = None
        headers = {key.lower(): value for key, value in request.headers.items()}
        scheme = request_scheme(request.scope, headers)
        if not authorization and origin_allowed(headers.get("origin"), headers.get("host"), scheme):
            morsel = SimpleCookie(request.headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
            session_key = morsel.value if morsel else None
        try:
            user = await authenticate(authorization, session_key)
        except BadCredentials:
            raise HTTPException(401, "Invalid credentials") from None
        return RxContext(user=user or AnonymousUser(), request=request, response=response)

    def encode_json(self, data: Any) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson raises JSONDecodeError (a json.JSONDecodeError: strawberry answers 400) for malformed
        # JSON and for nesting deeper than 1024 levels, where the json module would recurse.
        return orjson.loads(data)

    async def execute_operation(
        self,
        request: Any,
        request_adapter: Any,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: RxContext,
        root_value: None,
        sub_response: Any,
    ) -> Any:
        if not isinstance(request_data, list) and self._get_stream_transport(request_data.protocol):
            # A streamed operation (multipart, SSE) skips execute_single: prepare its document here.
            prepared = await prepare_async(get_schema()._schema, request_data.query)
            if prepared.document is None:
                return ExecutionResult(data=None, errors=list(prepared.errors))
            current_document.set(prepared)
        return await super().execute_operation(
            request=request,
            request_adapter=request_adapter,
            request_data=request_data,
            context=context,
            root_value=root_value,
            sub_response=sub_response,
        )

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: RxContext,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        prepared = await prepare_async(get_schema()._schema, request_data.query)
        if prepared.document is None:
            return ExecutionResult(data=None, errors=list(prepared.errors))
        current_document.set(prepared)
        return await super().execute_single(
            request=request,
            request_adapter=request_adapter,
            sub_response=sub_response,
            context=context,
            root_value=root_value,
            request_data=request_data,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        if not rx_settings().graphiql:
            raise HTTPException(404, "Not Found")
        return await super().render_graphql_ide(request)

    @property
    def graphql_ide_html(self) -> str:
        """Strawberry's GraphiQL page (assets from a CDN) with a fetcher for the websocket, or the file
        ``RXGRAPHQL["GRAPHIQL_HTML"]`` names (e.g. a GraphiQL built from npm packages and served locally)."""
        local = rx_settings().graphiql_html
        return Path(local).read_text(encoding="utf-8") if local else graphiql_page(super().graphql_ide_html)


def graphql_http_app() -> GraphQLHTTP:
    return GraphQLHTTP(
        get_schema(),
        graphql_ide="graphiql",  # served only while RXGRAPHQL["GRAPHIQL"] (default: DEBUG) is on
        subscription_protocols=(),
    )
