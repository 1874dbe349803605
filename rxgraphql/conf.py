"""The ``RXGRAPHQL`` settings dict, read once with its defaults (like DRF's ``api_settings``).

:data:`DEFAULTS` is the one table of keys and defaults: :class:`RxSettings` has one field per key (its
name in lower case, its annotation the type the value is converted to), check ``rxgraphql.W004`` warns
on any other key, and the README's settings table documents each (a test compares them).
:func:`rx_settings` builds the settings once and keeps them until Django's ``setting_changed`` says
``RXGRAPHQL`` or ``DEBUG`` changed (``override_settings``, pytest-django's ``settings``). Django itself
assigns ``DEBUG`` without that signal (``setup_test_environment``), so the settings read also remember
the ``RXGRAPHQL`` dict and the ``DEBUG`` they were read from, and are read again when either is another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed


class _Debug:
    """The default of a setting that follows ``settings.DEBUG``."""

    def __repr__(self) -> str:
        return "DEBUG"


DEBUG: Any = _Debug()

#: Every key of ``RXGRAPHQL`` and its default (:data:`DEBUG`: the project's ``settings.DEBUG``).
DEFAULTS: dict[str, Any] = {
    "QUERY": None,
    "MUTATION": None,
    "SUBSCRIPTION": None,
    "EXTENSIONS": (),
    "GRAPHIQL": DEBUG,
    "GRAPHIQL_HTML": None,
    "ALLOWED_ORIGINS": None,
    "REDIS_URL": None,
    "MONGO_URL": None,
    "MONGO_DATABASE": "rxgraphql",
    "HEAT_LEASE": 10.0,
    "SUBSCRIBER_LEASE": 30.0,
    "LOCK_TIMEOUT": 10.0,
    "FRONTEND_DIR": None,
    "CACHE_TTL": 300.0,
    "PING_INTERVAL": 15.0,
    "PONG_TIMEOUT": 10.0,
    "CONNECTION_INIT_TIMEOUT": 10.0,
    "SEND_QUEUE_SIZE": 1000,
    "SNAPSHOT_BATCH_SIZE": 500,
    "CAPTURE": "auto",
    "MAX_REQUEST_BYTES": 1_000_000,
    "MAX_DOCUMENT_BYTES": 100_000,
    "MAX_TOKENS": 5_000,
    "MAX_DEPTH": 20,
    "MAX_ALIASES": 20,
    "MAX_FIELDS": 1_000,
    "MAX_SUBSCRIPTIONS": 100,
    "MAX_FRAME_BYTES": 1_000_000,
    "DOCUMENT_CACHE_BYTES": 8_000_000,
    "SYNC_THREADS": 8,
    "SEND_BUFFER_BYTES": 4_000_000,
    "PERMISSION_RECHECK_INTERVAL": 30.0,
    "FREEZE_HEAP": True,
    "INTROSPECTION": DEBUG,
    "METRICS_PATH": None,
    "METRICS_TOKEN": None,
}

#: Every key of ``RXGRAPHQL`` (check ``rxgraphql.W004`` names any other one).
SETTING_NAMES = frozenset(DEFAULTS)


@dataclass(frozen=True)
class RxSettings:
    """The settings as the code reads them: one field per key of :data:`DEFAULTS`, converted."""

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
    freeze_heap: bool
    introspection: bool
    metrics_path: str | None
    metrics_token: str | None


# The conversion of each field's annotation (``X | None`` keeps None, converts anything else as ``X``).
_CONVERT: dict[str, Any] = {"str": str, "bool": bool, "int": int, "float": float, "tuple[str, ...]": tuple}


def _converted(annotation: str, value: Any) -> Any:
    kind, optional = annotation.removesuffix(" | None"), annotation.endswith(" | None")
    return None if value is None and optional else _CONVERT[kind](value)


def read_settings(declared: Any, debug: bool) -> RxSettings:
    """The settings of an ``RXGRAPHQL`` dict (None: no such setting) under ``DEBUG = debug``."""
    raw: dict[str, Any] = dict(declared or {})
    values = {}
    for field in dataclasses.fields(RxSettings):
        key = field.name.upper()
        value = raw.get(key, DEFAULTS[key])
        values[field.name] = _converted(str(field.type), debug if value is DEBUG else value)
    return RxSettings(**values)


# (the RXGRAPHQL dict, DEBUG, the settings read from them), or None before the first read
_current: tuple[Any, bool, RxSettings] | None = None


def rx_settings() -> RxSettings:
    """The ``RXGRAPHQL`` settings with their defaults, read once (again after ``setting_changed``)."""
    global _current
    declared, debug = getattr(settings, "RXGRAPHQL", None), bool(settings.DEBUG)
    current = _current
    if current is None or current[0] is not declared or current[1] is not debug:
        current = _current = (declared, debug, read_settings(declared, debug))
    return current[2]


def reload(setting: str = "RXGRAPHQL", **kwargs: Any) -> None:
    """Forget the settings read, so the next :func:`rx_settings` reads them again."""
    global _current
    if setting in ("RXGRAPHQL", "DEBUG"):
        _current = None


setting_changed.connect(reload, dispatch_uid="rxgraphql:settings")
