"""What the live system is doing, for Prometheus (and OpenTelemetry spans), at no cost when not installed.

The write and read paths call the functions of this module at their instrumentation points, one line each.
With ``prometheus_client`` installed (``pip install "rxgraphql[metrics]"``) they update the metrics below,
which the ASGI application serves at ``RXGRAPHQL["METRICS_PATH"]``; without it every call returns at once.
Gauges (subscriptions, sockets, anchors, send queues) are read when Prometheus scrapes, not kept up to
date on every change. With ``opentelemetry-api`` installed, :func:`traced` wraps the steps of a change's
path (capture → propagate → publish → fan-out) in spans of the tracer ``rxgraphql``.

Metrics describe the process that serves them: scrape every worker.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from django.db import models

try:
    import prometheus_client
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # the `metrics` extra is not installed: every call below is a no-op
    prometheus_client = None  # type: ignore[assignment]

try:
    from opentelemetry import trace as otel_trace
except ImportError:  # no opentelemetry-api: traced() returns the function unchanged
    otel_trace = None  # type: ignore[assignment]

__all__ = [
    "ENABLED",
    "heat_finished",
    "heat_started",
    "metrics_endpoint",
    "patch_published",
    "patch_sent",
    "rows_committed",
    "rows_propagated",
    "slow_consumer_closed",
    "socket_closed",
    "socket_opened",
    "subscription_closed",
    "subscription_opened",
    "traced",
]

ENABLED = prometheus_client is not None

#: Seconds; from a millisecond to a minute (a patch waiting behind a long heat or a backend outage).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: How many committed rows and published patches are remembered for the commit-to-send latency.
REMEMBERED = 10_000


# ---- the metrics ------------------------------------------------------------------------------------

if prometheus_client is not None:
    PATCHES = prometheus_client.Counter(
        "rxgraphql_patches_published", "Patches published by this process's write path", ["channel"]
    )
    SENT_FRAMES = prometheus_client.Counter(
        "rxgraphql_sent_frames", "Websocket frames written to clients (events, pings, results)"
    )
    SENT_BYTES = prometheus_client.Counter(
        "rxgraphql_sent_bytes", "UTF-8 bytes of the websocket frames written to clients"
    )
    SLOW_CLOSES = prometheus_client.Counter(
        "rxgraphql_slow_consumer_closes", "Sockets closed (1013) because their send queue was full"
    )
    COMMIT_TO_SEND = prometheus_client.Histogram(
        "rxgraphql_commit_to_send_seconds",
        "From a change's commit to its patch queued on the sockets of the groups sharing a document "
        "(changes committed in this process)",
        ["channel"],
        buckets=LATENCY_BUCKETS,
    )
    HEAT = prometheus_client.Histogram(
        "rxgraphql_heat_seconds",
        "Heating a cold anchor: rendering it from the database and storing it in the cache",
        ["channel"],
        buckets=LATENCY_BUCKETS,
    )


# ---- state read at scrape time ------------------------------------------------------------------------

_lock = threading.Lock()
#: channel name -> socket -> number of live subscriptions of the channel on it.
_subscriptions: dict[str, dict[int, int]] = defaultdict(dict)
#: socket -> the number of frames in its send queue.
_sockets: dict[int, Callable[[], int]] = {}
#: (model label, pk) -> monotonic time of the commit not yet propagated (the earliest one).
_committed: OrderedDict[tuple[str, str], float] = OrderedDict()
#: (channel, anchor, epoch, version) -> monotonic time of the oldest commit the patch carries.
_published: OrderedDict[tuple[str, str, str, int], float] = OrderedDict()


def _remember(table: OrderedDict[Any, float], key: Any, value: float) -> None:
    if key not in table:
        table[key] = value
        if len(table) > REMEMBERED:
            table.popitem(last=False)


def subscription_opened(channel: str, socket: object) -> None:
    """A channel subscription went live on a socket (call ``subscription_closed`` when it ends)."""
    if not ENABLED:
        return
    with _lock:
        per_socket = _subscriptions[channel]
        per_socket[id(socket)] = per_socket.get(id(socket), 0) + 1


def subscription_closed(channel: str, socket: object) -> None:
    if not ENABLED:
        return
    with _lock:
        per_socket = _subscriptions[channel]
        left = per_socket.get(id(socket), 0) - 1
        if left > 0:
            per_socket[id(socket)] = left
        else:
            per_socket.pop(id(socket), None)


def socket_opened(socket: object, queued: Callable[[], int]) -> None:
    """A websocket was accepted; ``queued()`` (its send queue's depth) is read at every scrape until
    ``socket_closed``."""
    if ENABLED:
        with _lock:
            _sockets[id(socket)] = queued


def socket_closed(socket: object) -> None:
    if ENABLED:
        with _lock:
            _sockets.pop(id(socket), None)


_tallies = threading.local()  # per thread (each event loop's own): frames and bytes of a batch


def frame_sent(frame: str) -> None:
    """A frame was written to a websocket."""
    if ENABLED:
        size = len(frame) if frame.isascii() else len(frame.encode())
        tally: list[int] | None = getattr(_tallies, "open", None)
        if tally is not None:
            tally[0] += 1
            tally[1] += size
            return
        SENT_FRAMES.inc()
        SENT_BYTES.inc(size)


class _Batch:
    """The block of :func:`frames_batched` that opened the tally (a class, cheaper to enter than a
    generator's context manager)."""

    __slots__ = ("tally",)

    def __enter__(self) -> None:
        self.tally = _tallies.open = [0, 0]

    def __exit__(self, *exc: object) -> None:
        _tallies.open = None
        tally = self.tally
        if tally[0]:
            SENT_FRAMES.inc(tally[0])
            SENT_BYTES.inc(tally[1])


_NESTED = contextlib.nullcontext()


def frames_batched() -> contextlib.AbstractContextManager[None]:
    """Count the frames sent inside the block with one update of the counters at its end (a fan-out
    to a thousand sockets would otherwise take two counter locks per socket); inside another such
    block it adds to that one's tally."""
    if not ENABLED or getattr(_tallies, "open", None) is not None:
        return _NESTED
    return _Batch()


def slow_consumer_closed() -> None:
    if ENABLED:
        SLOW_CLOSES.inc()


# ---- commit-to-send latency ---------------------------------------------------------------------------


def rows_committed(rows: Iterable[tuple[type[models.Model], str]], written_at: float | None = None) -> None:
    """Committed rows handed to the write path: the start of their commit-to-send latency.

    ``written_at`` (a ``time.time()`` reading, the outbox row's timestamp with trigger capture) dates a
    change made before it reached this process; otherwise it is dated now.
    """
    if not ENABLED:
        return
    now = time.monotonic()
    if written_at is not None:
        now -= max(0.0, time.time() - written_at)
    with _lock:
        for model, pk in rows:
            _remember(_committed, (model._meta.label, str(pk)), now)


def rows_propagated(rows: Iterable[tuple[type[models.Model], str]], retried: bool = False) -> None:
    """The write path is done with these rows (unless it retries them): forget their commit times."""
    if not ENABLED or retried:
        return
    with _lock:
        for model, pk in rows:
            _committed.pop((model._meta.label, str(pk)), None)


class _Dirty(Protocol):
    @property
    def model(self) -> type[models.Model]: ...


def patch_published(channel: str, anchor: str, patch: Any, dirty: Collection[tuple[_Dirty, str]]) -> None:
    """A patch of ``anchor`` is about to be published for these changed (layer, pk) rows (called before the
    publish: the embedded broker may deliver it on another thread before ``publish`` returns)."""
    if not ENABLED:
        return
    PATCHES.labels(channel).inc()
    with _lock:
        times = [_committed.get((layer.model._meta.label, str(pk))) for layer, pk in dirty]
        known = [t for t in times if t is not None]
        if known:
            _remember(_published, (channel, anchor, patch.epoch, patch.version), min(known))


class _LastSent:
    """The patch object ``patch_sent`` saw last with its commit time (one tuple, replaced whole, so a
    second loop's thread never pairs one patch with another's time): a fan-out hands one object to every
    group in a row, so the lookup runs once per patch, not once per group."""

    last: tuple[Any, float | None] = (None, None)
    histograms: dict[str, Any] = {}


def patch_sent(channel: str, patch: Any) -> None:
    """A patch was queued on the sockets of the groups of one document (in this process)."""
    if not ENABLED:
        return
    seen, committed = _LastSent.last
    if seen is not patch:
        with _lock:
            committed = _published.get((channel, patch.anchor, patch.epoch, patch.version))
        _LastSent.last = (patch, committed)
    if committed is not None:
        histogram = _LastSent.histograms.get(channel)
        if histogram is None:
            histogram = _LastSent.histograms[channel] = COMMIT_TO_SEND.labels(channel)
        histogram.observe(time.monotonic() - committed)


# ---- heating --------------------------------------------------------------------------------------------


def heat_started() -> float:
    """The start of a heat, for ``heat_finished``."""
    return time.monotonic()


def heat_finished(channel: str, started: float) -> None:
    if ENABLED:
        HEAT.labels(channel).observe(time.monotonic() - started)


# ---- the scrape -----------------------------------------------------------------------------------------


class _LiveCollector:
    """Gauges read when Prometheus scrapes: subscriptions, sockets, anchors and send queues."""

    def collect(self) -> Iterator[Any]:
        subscriptions = GaugeMetricFamily(
            "rxgraphql_subscriptions", "Live channel subscriptions in this process", labels=["channel"]
        )
        sockets = GaugeMetricFamily(
            "rxgraphql_channel_sockets",
            "Websockets with at least one live subscription of the channel",
            labels=["channel"],
        )
        with _lock:
            counts = {channel: dict(per_socket) for channel, per_socket in _subscriptions.items()}
            open_sockets = list(_sockets.values())
        for channel, per_socket in sorted(counts.items()):
            subscriptions.add_metric([channel], sum(per_socket.values()))
            sockets.add_metric([channel], len(per_socket))
        yield subscriptions
        yield sockets
        yield GaugeMetricFamily("rxgraphql_sockets", "Open websockets", value=len(open_sockets))
        depths = [queued() for queued in open_sockets]
        yield GaugeMetricFamily(
            "rxgraphql_send_queue_depth_max",
            "Frames queued on the fullest socket",
            value=max(depths, default=0),
        )
        yield GaugeMetricFamily(
            "rxgraphql_send_queue_frames", "Frames queued on all sockets", value=sum(depths)
        )
        yield from _anchor_gauges()


def _anchor_gauges() -> Iterator[Any]:
    from .backends import get_cache
    from .registry import registry

    anchors = GaugeMetricFamily(
        "rxgraphql_anchors",
        "Anchors in the record cache by state (this process's view of the shared cache)",
        labels=["channel", "state"],
    )
    cache = get_cache()
    for name in sorted(registry.channels):
        active = len(cache.active_anchors(name))
        heating = len(cache.heating_anchors(name))
        anchors.add_metric([name, "hot"], active - heating)
        anchors.add_metric([name, "heating"], heating)
    yield anchors


if prometheus_client is not None:
    prometheus_client.REGISTRY.register(_LiveCollector())


# ---- the endpoint ---------------------------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]


def metrics_endpoint(token: str | None) -> Endpoint:
    """The ASGI endpoint of the scrape: Prometheus's text format; with ``token``, only for
    ``Authorization: Bearer <token>``."""
    if prometheus_client is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            'RXGRAPHQL["METRICS_PATH"] needs prometheus_client: pip install "rxgraphql[metrics]"'
        )
    expected = f"Bearer {token}".encode() if token else None

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        if expected is not None and not hmac.compare_digest(headers.get(b"authorization", b""), expected):
            await _respond(send, 401, b"text/plain; charset=utf-8", b"Unauthorized\n")
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _respond(send, 405, b"text/plain; charset=utf-8", b"Method not allowed\n")
            return
        body = prometheus_client.generate_latest()
        await _respond(send, 200, prometheus_client.CONTENT_TYPE_LATEST.encode(), body)

    return endpoint


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---- spans ----------------------------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])


def traced(name: str) -> Callable[[F], F]:
    """Decorate a step of the change's path with an OpenTelemetry span ``name`` (unchanged without
    opentelemetry-api; spans are recorded once an SDK's tracer provider is installed, and until then the
    step runs without one: a no-op span per fan-out group cost 8 % of a 1000-group fan-out)."""
    if otel_trace is None:
        return lambda function: function
    tracer = otel_trace.get_tracer("rxgraphql")
    unset = (otel_trace.ProxyTracerProvider, otel_trace.NoOpTracerProvider)
    provider = otel_trace.get_tracer_provider

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if isinstance(provider(), unset):
                return function(*args, **kwargs)
            with tracer.start_as_current_span(name):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
