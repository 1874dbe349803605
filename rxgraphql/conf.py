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
    )
