"""Selects the record cache and the broker the settings ask for, one instance of each per process.

With no ``REDIS_URL`` and no ``MONGO_URL`` the embedded backends keep everything in this process (the
default: single-process development). With both, the production backends share the cache between every
process (``backends.shared``). Instances are created on first use in the process that uses them, so a
process forked after settings were read (gunicorn/uvicorn workers) opens its own connections.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from ..conf import rx_settings
from .base import AnchorState, BackendUnavailableError, Broker, Patch, RecordCache, Snapshot
from .memory import MemoryBroker, MemoryRecordCache

__all__ = [
    "AnchorState",
    "BackendUnavailableError",
    "Broker",
    "Patch",
    "RecordCache",
    "Snapshot",
    "get_broker",
    "get_cache",
    "is_unavailable",
    "reset",
]

_lock = threading.Lock()
_instances: dict[str, Any] = {}


def _build() -> dict[str, Any]:
    settings = rx_settings()
    if not settings.redis_url and not settings.mongo_url:
        return {"pid": os.getpid(), "cache": MemoryRecordCache(), "broker": MemoryBroker()}
    if not settings.redis_url or not settings.mongo_url:
        raise ImproperlyConfigured(
            "RXGRAPHQL needs both REDIS_URL and MONGO_URL for the shared backends (or neither for the "
            "embedded ones)"
        )
    from .mongo import MongoStore
    from .redis import RedisBroker, RedisNode
    from .shared import SharedRecordCache

    node = RedisNode(
        settings.redis_url,
        subscriber_lease=settings.subscriber_lease,
        lock_timeout=settings.lock_timeout,
    )
    store = MongoStore(settings.mongo_url, settings.mongo_database)
    return {
        "pid": os.getpid(),
        "cache": SharedRecordCache(node, store, heat_lease=settings.heat_lease),
        "broker": RedisBroker(node),
        "node": node,
        "store": store,
    }


def _get(name: str) -> Any:
    with _lock:
        if _instances.get("pid") != os.getpid():
            _instances.clear()
            _instances.update(_build())
        return _instances[name]


def get_cache() -> RecordCache:
    cache: RecordCache = _get("cache")
    return cache


def get_broker() -> Broker:
    broker: Broker = _get("broker")
    return broker


def close() -> None:
    """Drop this process's backends (and their connections); the next use builds them from settings."""
    with _lock:
        node, store = _instances.get("node"), _instances.get("store")
        _instances.clear()
    if node is not None:
        node.close()
    if store is not None:
        store.close()


def is_unavailable(error: BaseException) -> bool:
    """Whether an error means a backend server is unreachable (the write path then retries)."""
    if isinstance(error, BackendUnavailableError):
        return True
    try:
        from .mongo import unavailable as mongo_unavailable
        from .redis_keys import unavailable as redis_unavailable
    except ImportError:
        return False
    return redis_unavailable(error) or mongo_unavailable(error)


def reset() -> None:
    """Forget every cached anchor and subscription of this process (tests, ``migrate``).

    With the shared backends this clears the state of every process (``migrate`` changed the schema).
    """
    get_cache().reset()
    get_broker().reset()
