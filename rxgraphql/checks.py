"""System checks of the ``RXGRAPHQL`` backend settings.

Errors: one of ``REDIS_URL`` / ``MONGO_URL`` without the other (the shared cache needs both), a URL that
does not parse, a server that does not answer within a second (silence ``rxgraphql.E003`` for commands
that must run while the servers are down).

Warning ``rxgraphql.W002`` (a database check: ``migrate``, ``check --database default``): with trigger
capture, a layer table (or a many-to-many table between layers) has no capture trigger, or a trigger is out
of step with the channels, so some changes would never reach subscribers. ``migrate`` fixes it.

Warning ``rxgraphql.W003`` (a database check too): capture triggers left on a PostgreSQL database whose
``CAPTURE`` is ``"signals"``.

Warning ``rxgraphql.W004``: a key of ``RXGRAPHQL`` that no setting has (``REDIS_URI``), with the closest
name when there is one.

Warning ``rxgraphql.W001``: the embedded backends keep the cache and the fan-out inside one process, so a
save made in another process (another worker, a management command, a task queue) never reaches its
subscribers. Checks run in ``manage.py`` processes, not inside ASGI servers, so the signs looked for are
the ones a deployment leaves in the environment or the settings: ``WEB_CONCURRENCY`` / ``UVICORN_WORKERS``
above 1, ``--workers``/``-w`` above 1 in ``GUNICORN_CMD_ARGS``, or a Redis channel layer in
``CHANNEL_LAYERS`` (chosen only when several processes must talk to each other).
"""

from __future__ import annotations

import os
import re
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import rx_settings


def _workers_from_env() -> int:
    counts = [1]
    for name in ("WEB_CONCURRENCY", "UVICORN_WORKERS"):
        raw = os.environ.get(name, "").strip()
        if raw.isdigit():
            counts.append(int(raw))
    match = re.search(r"(?:--workers[= ]|-w ?)(\d+)", os.environ.get("GUNICORN_CMD_ARGS", ""))
    if match:
        counts.append(int(match.group(1)))
    return max(counts)


def _redis_channel_layer() -> bool:
    layers: dict[str, Any] = getattr(settings, "CHANNEL_LAYERS", {}) or {}
    return any("channels_redis" in str(layer.get("BACKEND", "")) for layer in layers.values())


@register("rxgraphql")
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = rx_settings()
    messages: list[CheckMessage] = []
    if not config.redis_url and not config.mongo_url:
        workers = _workers_from_env()
        if workers > 1 or _redis_channel_layer():
            reason = f"{workers} worker processes" if workers > 1 else "CHANNEL_LAYERS uses Redis"
            messages.append(
                Warning(
                    f"rxgraphql uses its embedded backends but this deployment runs several processes "
                    f"({reason}): saves made in one process never reach subscribers of another.",
                    hint="Set RXGRAPHQL['REDIS_URL'] and RXGRAPHQL['MONGO_URL'] (see README, Deploying).",
                    id="rxgraphql.W001",
                )
            )
        return messages
    if not config.redis_url or not config.mongo_url:
        missing = "REDIS_URL" if not config.redis_url else "MONGO_URL"
        return [
            Error(
                f"RXGRAPHQL['{missing}'] is not set: the shared backends need both Redis and MongoDB.",
                hint="Set both REDIS_URL and MONGO_URL, or neither (embedded, single-process backends).",
                id="rxgraphql.E001",
            )
        ]
    messages.extend(_check_redis(config.redis_url))
    messages.extend(_check_mongo(config.mongo_url, config.mongo_database))
    return messages


def _check_redis(url: str) -> list[CheckMessage]:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    except ValueError as error:
        return [Error(f"RXGRAPHQL['REDIS_URL'] is not a Redis URL: {error}", id="rxgraphql.E002")]
    try:
        client.ping()
    except redis.RedisError as error:
        return [Error(f"Redis at RXGRAPHQL['REDIS_URL'] does not answer: {error}", id="rxgraphql.E003")]
    finally:
        client.close()
    return []


def _check_mongo(url: str, database: str) -> list[CheckMessage]:
    from pymongo import MongoClient
    from pymongo.errors import ConfigurationError, InvalidURI, PyMongoError

    try:
        client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=1000, connect=False)
    except (InvalidURI, ConfigurationError, ValueError) as error:
        return [Error(f"RXGRAPHQL['MONGO_URL'] is not a MongoDB URL: {error}", id="rxgraphql.E002")]
    try:
        client[database].command("ping")
    except PyMongoError as error:
        return [Error(f"MongoDB at RXGRAPHQL['MONGO_URL'] does not answer: {error}", id="rxgraphql.E003")]
    finally:
        client.close()
    return []


@register(Tags.database)
def check_capture(app_configs: Any = None, databases: Any = None, **kwargs: Any) -> list[CheckMessage]:
    from django.db import DEFAULT_DB_ALIAS, DatabaseError

    from .capture import triggers, uses_triggers

    if not databases or DEFAULT_DB_ALIAS not in databases:
        return []
    if not uses_triggers():
        return _leftover_triggers(DEFAULT_DB_ALIAS)
    try:
        found = triggers.status(DEFAULT_DB_ALIAS)
    except DatabaseError as error:
        return [Warning(f"rxgraphql could not read its capture triggers: {error}", id="rxgraphql.W002")]
    if found.in_step:
        return []
    tables = sorted({*found.missing, *found.stale})
    problems = [f"tables without capture: {', '.join(tables)}"] if tables else []
    if found.extra:
        problems.append(f"triggers no channel needs: {', '.join(found.extra)}")
    if not found.outbox:
        problems.append("the outbox table is missing")
    return [
        Warning(
            "rxgraphql's change-capture triggers are not in step with the channels ("
            + "; ".join(problems)
            + "): changes of those tables would not reach subscribers.",
            hint="Run `manage.py migrate` or `manage.py rxgraphql_capture`.",
            id="rxgraphql.W002",
        )
    ]


LIMITS = (
    "max_request_bytes",
    "max_document_bytes",
    "max_tokens",
    "max_depth",
    "max_aliases",
    "max_fields",
    "max_subscriptions",
    "max_frame_bytes",
    "sync_threads",
    "send_buffer_bytes",
    "send_queue_size",
)


@register("rxgraphql")
def check_security(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``rxgraphql.E101``: a limit that is not a positive number; ``E102``: ``Meta.recheck_on`` naming
    something else than models; ``W101``: ``ALLOWED_ORIGINS`` with ``"*"`` (any site may use the session
    cookie of a visitor); ``W102``: GraphiQL served while introspection is off (it cannot work)."""
    from django.db import models

    from .registry import registry

    config = rx_settings()
    messages: list[CheckMessage] = []
    for name in LIMITS:
        if getattr(config, name) <= 0:
            messages.append(
                Error(f"RXGRAPHQL['{name.upper()}'] must be a positive number", id="rxgraphql.E101")
            )
    for channel in registry.channels.values():
        declared = getattr(channel.__dict__.get("Meta"), "recheck_on", None) or ()
        if not all(isinstance(m, type) and issubclass(m, models.Model) for m in declared):
            messages.append(
                Error(f"{channel.__qualname__}: Meta.recheck_on must list model classes", id="rxgraphql.E102")
            )
    if config.allowed_origins is not None and "*" in config.allowed_origins:
        messages.append(
            Warning(
                "RXGRAPHQL['ALLOWED_ORIGINS'] contains '*': any web site may use a visitor's session cookie "
                "on /graphql (websocket and HTTP).",
                hint="List the origins (scheme://host:port) of your frontends instead.",
                id="rxgraphql.W101",
            )
        )
    if config.graphiql and not config.introspection:
        messages.append(
            Warning(
                "RXGRAPHQL['GRAPHIQL'] is on but introspection is off: GraphiQL cannot load the schema.",
                id="rxgraphql.W102",
            )
        )
    return messages


def _leftover_triggers(using: str) -> list[CheckMessage]:
    """``rxgraphql.W003``: capture triggers on a database whose changes are captured by signals (the
    outbox would grow with nobody to drain it)."""
    from django.db import DatabaseError, connections

    from .capture import triggers

    if connections[using].vendor != "postgresql":
        return []
    try:
        installed = triggers.status(using)
    except DatabaseError:
        return []
    leftover = [t for t in triggers.wanted_triggers() if t not in installed.missing] + list(installed.extra)
    if not leftover:
        return []
    return [
        Warning(
            f"RXGRAPHQL['CAPTURE'] is 'signals' but {len(leftover)} tables still have rxgraphql's capture "
            "triggers: their changes fill the outbox and nothing drains it.",
            hint="Run `manage.py rxgraphql_capture --remove`.",
            id="rxgraphql.W003",
        )
    ]


@register("rxgraphql")
def check_setting_names(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    import difflib

    from .conf import SETTING_NAMES

    raw = getattr(settings, "RXGRAPHQL", {}) or {}
    messages: list[CheckMessage] = []
    for name in sorted(set(raw) - SETTING_NAMES):
        close = difflib.get_close_matches(str(name), sorted(SETTING_NAMES), n=1)
        messages.append(
            Warning(
                f"RXGRAPHQL has no setting {name!r}: it is ignored.",
                hint=f"Did you mean {close[0]!r}?" if close else "See the settings table in the README.",
                id="rxgraphql.W004",
            )
        )
    return messages
