"""The naive comparisons of B1: strawberry's Django Channels consumer fed by channel-layer ``group_send``.

What a team would write without rxgraphql, in two variants chosen by ``RXGRAPHQL_BENCH_NAIVE``:

- ``per-subscriber`` (default): a ``post_save`` receiver sends "board changed" to the board's channel-layer
  group, and every subscriber re-executes the nested query (``BoardSerializer`` of the whole board,
  relations prefetched as in the DRF view of B2) and sends the full state as a JSON field;
- ``render-once``: the receiver renders the nested state once and sends it with the group message; every
  subscriber sends that state (the layer copies the message per subscriber, strawberry encodes it per
  subscriber).

Served by one uvicorn worker with the example's ``InMemoryChannelLayer`` (one process, so no Redis layer is
needed); the database work of the subscribers runs in Django's thread-sensitive executor, as
``database_sync_to_async`` would. No authentication is checked, which only favours this side. rxgraphql's
own signal receivers are disconnected in this process so its saves cost what they would without rxgraphql.

Saves are made by the same writer thread as for rxgraphql (``bench.agent``); the receiver hands the group
message to the worker's event loop.
"""

import asyncio
import json
import os
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

_EXAMPLE = str(Path(__file__).resolve().parent.parent / "example")
if _EXAMPLE not in sys.path:
    sys.path.insert(0, _EXAMPLE)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

import strawberry  # noqa: E402
from asgiref.sync import sync_to_async  # noqa: E402
from board.models import Card  # noqa: E402
from board.serializers import BoardSerializer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.db.models.signals import post_save  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.renderers import JSONRenderer  # noqa: E402
from strawberry.channels import GraphQLWSConsumer  # noqa: E402
from strawberry.scalars import JSON  # noqa: E402

from bench import agent  # noqa: E402
from bench.views import board_queryset  # noqa: E402
from bench.writes import disconnect_receivers  # noqa: E402

CHANGED = "board.changed"
RENDER_ONCE = os.environ.get("RXGRAPHQL_BENCH_NAIVE", "per-subscriber") == "render-once"


def _group(board_id: object) -> str:
    return f"naive-board-{board_id}"


def _nested_state(board_id: str) -> Any:
    data = BoardSerializer(board_queryset().get(pk=board_id)).data
    return json.loads(JSONRenderer().render(data))


nested_state = sync_to_async(_nested_state)


@strawberry.type
class Query:
    """GraphQL needs a query type."""

    @strawberry.field
    def ok(self) -> bool:
        """Always true."""
        return True


@strawberry.type
class Subscription:
    """The board's nested state, sent again in full after every change."""

    @strawberry.subscription
    async def naive_board(self, info: strawberry.Info, board_id: strawberry.ID) -> AsyncGenerator[JSON, None]:
        """First the state, then the state again at each notification of the board's group."""
        consumer = info.context["ws"]
        async with consumer.listen_to_channel(CHANGED, groups=[_group(board_id)]) as notifications:
            yield await nested_state(board_id)
            async for message in notifications:
                yield message["state"] if RENDER_ONCE else await nested_state(board_id)


def _card_saved(sender: type[Card], instance: Card, **kwargs: Any) -> None:
    layer = get_channel_layer()
    running = agent.current()
    assert layer is not None
    assert running is not None
    assert running.loop is not None
    board_id = instance.column.board_id
    message: dict[str, Any] = {"type": CHANGED}
    if RENDER_ONCE:
        message["state"] = _nested_state(str(board_id))
    asyncio.run_coroutine_threadsafe(layer.group_send(_group(board_id), message), running.loop).result(60)


disconnect_receivers()
post_save.connect(_card_saved, sender=Card, dispatch_uid="bench-naive")
schema = strawberry.Schema(query=Query, subscription=Subscription)

application = agent.install(
    ProtocolTypeRouter(
        {
            "http": get_asgi_application(),
            "websocket": URLRouter([path("graphql", GraphQLWSConsumer.as_asgi(schema=schema))]),
        }
    )
)
