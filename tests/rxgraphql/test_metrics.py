"""The Prometheus endpoint scraped while a subscription is live and a save reaches it; the OpenTelemetry
spans over a change's path.

The metrics are the process's: other tests move the counters too, so each check compares a scrape taken
before the save with one taken after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from board.models import Card
from django.test import override_settings
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql import metrics
from rxgraphql.capture import wait_propagated
from schema_bridge.schema import get_schema_index
from schema_bridge.websocket import PROTOCOL, Connection
from tests.support.aio import LoopThread
from tests.support.live import LiveClient
from tests.support.live_server import LiveServer
from tests.support.waiting import wait_until
from tests.support.world import BoardWorld

CHANNEL = "board.channels.BoardChannel"
TOKEN = "scrape-secret"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def metrics_server(transactional_db: None, _release_test_database: None) -> Iterator[LiveServer]:
    """The project's ASGI application with ``METRICS_PATH`` and ``METRICS_TOKEN`` set."""
    from django.conf import settings

    from rxgraphql import backends
    from rxgraphql.asgi import get_asgi_application

    enabled = {**settings.RXGRAPHQL, "METRICS_PATH": "/metrics", "METRICS_TOKEN": TOKEN}
    with override_settings(RXGRAPHQL=enabled):
        backends.reset()
        server = LiveServer(get_asgi_application()).start()
    try:
        yield server
    finally:
        server.stop()
        backends.reset()


def scrape(server: LiveServer) -> Samples:
    response = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_scrape_during_a_live_subscription_and_a_save_shows_the_counters_and_latency_moving(
    metrics_server: LiveServer, aio: LoopThread, board_world: BoardWorld
) -> None:
    assert metrics.ENABLED
    board = board_world.board_a
    # Gauges are the process's: sockets other tests left closing may still count.
    idle = scrape(metrics_server)
    client = LiveClient(aio, metrics_server.ws_url).connect(board_world.token(board_world.alice))
    try:
        watcher = client.watch_board(board.pk)
        watcher.ready()
        before = scrape(metrics_server)
        for gauge, labels in [
            ("rxgraphql_subscriptions", {"channel": CHANNEL}),
            ("rxgraphql_channel_sockets", {"channel": CHANNEL}),
            ("rxgraphql_sockets", {}),
        ]:
            assert value(before, gauge, **labels) == value(idle, gauge, **labels) + 1, gauge
        assert value(before, "rxgraphql_anchors", channel=CHANNEL, state="hot") == 1
        assert value(before, "rxgraphql_anchors", channel=CHANNEL, state="heating") == 0
        assert value(before, "rxgraphql_heat_seconds_count", channel=CHANNEL) >= 1
        assert ("rxgraphql_send_queue_depth_max", ()) in before

        card = Card.objects.filter(column__board=board).first()
        assert card is not None
        card.title = "Scraped"
        card.save()
        watcher.until(lambda event: any(r.get("title") == "Scraped" for r in event["records"]))

        after = scrape(metrics_server)
        for name, labels in [
            ("rxgraphql_patches_published_total", {"channel": CHANNEL}),
            ("rxgraphql_commit_to_send_seconds_count", {"channel": CHANNEL}),
            ("rxgraphql_sent_frames_total", {}),
            ("rxgraphql_sent_bytes_total", {}),
        ]:
            assert value(after, name, **labels) > value(before, name, **labels), name
        # The latency was observed in a bucket, and the histogram's sum grew with it.
        assert value(after, "rxgraphql_commit_to_send_seconds_sum", channel=CHANNEL) > value(
            before, "rxgraphql_commit_to_send_seconds_sum", channel=CHANNEL
        )
        assert value(after, "rxgraphql_commit_to_send_seconds_bucket", channel=CHANNEL, le="+Inf") > value(
            before, "rxgraphql_commit_to_send_seconds_bucket", channel=CHANNEL, le="+Inf"
        )
        watcher.stop()
        client.close()

        def gone() -> bool:
            return value(scrape(metrics_server), "rxgraphql_sockets") == value(idle, "rxgraphql_sockets")

        wait_until(gone, "the closed socket leaves the gauges")
        assert value(scrape(metrics_server), "rxgraphql_subscriptions", channel=CHANNEL) == value(
            idle, "rxgraphql_subscriptions", channel=CHANNEL
        )
    finally:
        client.close()


def test_the_endpoint_wants_its_token(metrics_server: LiveServer) -> None:
    assert httpx.get(f"{metrics_server.url}/metrics").status_code == 401
    wrong = httpx.get(f"{metrics_server.url}/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert "rxgraphql_" not in wrong.text


def test_without_metrics_path_nothing_is_served(rx_server: LiveServer) -> None:
    response = httpx.get(f"{rx_server.url}/metrics")
    assert response.status_code == 404
    assert "rxgraphql_" not in response.text


def test_a_change_path_is_traced_capture_propagate_publish_fanout(
    ws_client: Callable[[], LiveClient], board_world: BoardWorld
) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # once per process; the module's tracer follows it

    board = board_world.board_a
    watcher = ws_client().connect(board_world.token(board_world.alice)).watch_board(board.pk)
    watcher.ready()
    exporter.clear()
    card = Card.objects.filter(column__board=board).first()
    assert card is not None
    card.title = "Traced"
    card.save()
    watcher.until(lambda event: any(r.get("title") == "Traced" for r in event["records"]))
    assert wait_propagated(30)  # the propagate span ends after the patch it published arrived
    names = {span.name for span in exporter.get_finished_spans()}
    assert {"rxgraphql.capture", "rxgraphql.propagate", "rxgraphql.publish", "rxgraphql.fanout"} <= names


async def test_a_client_that_does_not_read_fills_the_queue_gauges_and_its_close_is_counted(
    settings: SettingsWrapper,
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "SEND_QUEUE_SIZE": 3}
    accepted, sending = asyncio.Event(), asyncio.Event()
    closed: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.accept":
            accepted.set()
        elif message["type"] == "websocket.close":
            closed.set_result(message)
        elif message["type"] == "websocket.send":
            sending.set()
            await asyncio.Event().wait()  # the client reads nothing: this send never returns

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    scope = {"type": "websocket", "headers": [], "subprotocols": [PROTOCOL]}
    connection = Connection(scope, send, get_schema_index())
    serving = asyncio.create_task(connection.serve(receive))
    try:
        await asyncio.wait_for(accepted.wait(), 30)
        closes = sample("rxgraphql_slow_consumer_closes_total")
        connection.push('{"n":0}')
        await asyncio.wait_for(sending.wait(), 30)  # the writer took the first frame and blocks sending it
        for number in (1, 2, 3):
            connection.push(f'{{"n":{number}}}')
        assert sample("rxgraphql_send_queue_depth_max") >= 3
        assert sample("rxgraphql_send_queue_frames") >= 3
        assert sample("rxgraphql_slow_consumer_closes_total") == closes
        connection.push('{"n":4}')  # one too many: the client is disconnected
        assert (await asyncio.wait_for(closed, 30))["code"] == 1013
        assert sample("rxgraphql_slow_consumer_closes_total") == closes + 1
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)


def test_frames_sent_in_a_batch_count_once_at_its_end() -> None:
    def sent() -> tuple[float, float]:
        frames = REGISTRY.get_sample_value("rxgraphql_sent_frames_total") or 0.0
        size = REGISTRY.get_sample_value("rxgraphql_sent_bytes_total") or 0.0
        return frames, size

    before = sent()
    with metrics.frames_batched():
        metrics.frame_sent('{"a":1}')
        with metrics.frames_batched():  # nested: the outer batch counts it
            metrics.frame_sent("é")
        assert sent() == before
    assert sent() == (before[0] + 2, before[1] + 7 + 2)
    metrics.frame_sent("xy")  # outside a batch: counted at once
    assert sent() == (before[0] + 3, before[1] + 11)
