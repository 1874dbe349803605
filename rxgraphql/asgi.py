"""The project's ASGI application: ``/graphql`` (HTTP and websocket) beside the Django app.

With ``RXGRAPHQL["METRICS_PATH"]`` set it also serves the Prometheus metrics (``rxgraphql.metrics``).
Point ``ASGI_APPLICATION`` (daphne's ``runserver``) or any ASGI server at ``application``::

    from rxgraphql.asgi import get_asgi_application
    application = get_asgi_application()
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import django
from django.core.asgi import get_asgi_application as get_django_asgi_application

from .conf import rx_settings
from .errors import CloseCode
from .heap import freeze_startup
from .metrics import metrics_endpoint

ASGIApp = Callable[
    [
        dict[str, Any],
        Callable[[], Awaitable[dict[str, Any]]],
        Callable[[dict[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def get_asgi_application(path: str = "/graphql") -> ASGIApp:
    django.setup(set_prefix=False)
    django_app = get_django_asgi_application()
    from schema_bridge.asgi import GraphQLEndpoint

    from .capture import start_capture

    start_capture()  # with trigger capture, this process propagates the outbox

    endpoint = GraphQLEndpoint()
    prefix = path.rstrip("/")
    conf = rx_settings()
    metrics_path = conf.metrics_path.rstrip("/") if conf.metrics_path else None
    metrics = metrics_endpoint(conf.metrics_token) if metrics_path else None

    async def application(
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket") and scope["path"].rstrip("/") == prefix:
            await endpoint(scope, receive, send)
        elif metrics is not None and kind == "http" and scope["path"].rstrip("/") == metrics_path:
            await metrics(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": int(CloseCode.NOT_FOUND)})
        else:
            await django_app(scope, receive, send)  # type: ignore[arg-type]

    freeze_startup()  # what starting left stays alive: no full collection traverses it again (heap.py)
    return application
