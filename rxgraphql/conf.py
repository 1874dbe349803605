"""The ``RXGRAPHQL`` settings dict, read with defaults in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

DEFAULT_CACHE_TTL = 300.0


@dataclass(frozen=True)
class RxSettings:
    query: str | None
    mutation: str | None
    subscription: str | None
    extensions: tuple[str, ...]
    graphiql: bool
    graphiql_html: str | None
    allowed_origins: tuple[str, ...] | None
    redis_url: str | None
    mongo_url: str | None
    mongo_database: str
    heat_lease: float
    subscriber_lease: float
    lock_timeout: float
    frontend_dir: str | None
    cache_ttl: float
    ping_interval: float
    pong_timeout: float
    connection_init_timeout: float
    send_queue_size: int
    snapshot_batch_size: int
    capture: str
    max_request_bytes: int
    max_document_bytes: int
    max_tokens: int
    max_depth: int
    max_aliases: int
    max_fields: int
    max_subscriptions: int
    max_frame_bytes: int
    document_cache_bytes: int
    sync_threads: int
    send_buffer_bytes: int
    permission_recheck_interval: float
    introspection: bool
    metrics_path: str | None
    metrics_token: str | None


#: Every key of ``RXGRAPHQL`` (check ``rxgraphql.W004`` names any other one).
SETTING_NAMES = frozenset(
    {
        "ALLOWED_ORIGINS",
        "CACHE_TTL",
        "CAPTURE",
        "CONNECTION_INIT_TIMEOUT",
        "DOCUMENT_CACHE_BYTES",
        "EXTENSIONS",
        "FRONTEND_DIR",
        "GRAPHIQL",
        "GRAPHIQL_HTML",
        "HEAT_LEASE",
        "INTROSPECTION",
        "LOCK_TIMEOUT",
        "MAX_ALIASES",
        "MAX_DEPTH",
        "MAX_DOCUMENT_BYTES",
        "MAX_FIELDS",
        "MAX_FRAME_BYTES",
        "MAX_REQUEST_BYTES",
        "MAX_SUBSCRIPTIONS",
        "MAX_TOKENS",
        "METRICS_PATH",
        "METRICS_TOKEN",
        "MONGO_DATABASE",
        "MONGO_URL",
        "MUTATION",
        "PERMISSION_RECHECK_INTERVAL",
        "PING_INTERVAL",
        "PONG_TIMEOUT",
        "QUERY",
        "REDIS_URL",
        "SEND_BUFFER_BYTES",
        "SEND_QUEUE_SIZE",
        "SNAPSHOT_BATCH_SIZE",
        "SUBSCRIBER_LEASE",
        "SUBSCRIPTION",
        "SYNC_THREADS",
    }
)


def rx_settings() -> RxSettings:
    raw: dict[str, Any] = dict(getattr(settings, "RXGRAPHQL", {}) or {})
    origins = raw.get("ALLOWED_ORIGINS")
    return RxSettings(
        query=raw.get("QUERY"),
        mutation=raw.get("MUTATION"),
        subscription=raw.get("SUBSCRIPTION"),
        extensions=tuple(raw.get("EXTENSIONS", ())),
        graphiql=bool(raw.get("GRAPHIQL", settings.DEBUG)),
        graphiql_html=raw.get("GRAPHIQL_HTML"),
        allowed_origins=None if origins is None else tuple(origins),
        redis_url=raw.get("REDIS_URL"),
        mongo_url=raw.get("MONGO_URL"),
        mongo_database=str(raw.get("MONGO_DATABASE", "rxgraphql")),
        heat_lease=float(raw.get("HEAT_LEASE", 10.0)),
        subscriber_lease=float(raw.get("SUBSCRIBER_LEASE", 30.0)),
        lock_timeout=float(raw.get("LOCK_TIMEOUT", 10.0)),
        frontend_dir=raw.get("FRONTEND_DIR"),
        cache_ttl=float(raw.get("CACHE_TTL", DEFAULT_CACHE_TTL)),
        ping_interval=float(raw.get("PING_INTERVAL", 15.0)),
        pong_timeout=float(raw.get("PONG_TIMEOUT", 10.0)),
        connection_init_timeout=float(raw.get("CONNECTION_INIT_TIMEOUT", 10.0)),
        send_queue_size=int(raw.get("SEND_QUEUE_SIZE", 1000)),
        snapshot_batch_size=int(raw.get("SNAPSHOT_BATCH_SIZE", 500)),
        capture=str(raw.get("CAPTURE", "auto")),
        max_request_bytes=int(raw.get("MAX_REQUEST_BYTES", 1_000_000)),
        max_document_bytes=int(raw.get("MAX_DOCUMENT_BYTES", 100_000)),
        max_tokens=int(raw.get("MAX_TOKENS", 5_000)),
        max_depth=int(raw.get("MAX_DEPTH", 20)),
        max_aliases=int(raw.get("MAX_ALIASES", 20)),
        max_fields=int(raw.get("MAX_FIELDS", 1_000)),
        max_subscriptions=int(raw.get("MAX_SUBSCRIPTIONS", 100)),
        max_frame_bytes=int(raw.get("MAX_FRAME_BYTES", 1_000_000)),
        document_cache_bytes=int(raw.get("DOCUMENT_CACHE_BYTES", 8_000_000)),
        sync_threads=int(raw.get("SYNC_THREADS", 8)),
        send_buffer_bytes=int(raw.get("SEND_BUFFER_BYTES", 4_000_000)),
        permission_recheck_interval=float(raw.get("PERMISSION_RECHECK_INTERVAL", 30.0)),
        introspection=bool(raw.get("INTROSPECTION", settings.DEBUG)),
        metrics_path=raw.get("METRICS_PATH"),
        metrics_token=raw.get("METRICS_TOKEN"),
    )
