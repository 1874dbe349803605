"""Selects the record cache and the broker the settings ask for, one instance of each per process.

With no ``REDIS_URL`` and no ``MONGO_URL`` the embedded backends keep everything in this process (the
default: single-process development). With both, the production backends share the cache between every
process (``backends.shared``). Instances are created on first use in the process that uses them, so a
process forked after settings were read (gunicorn/uvicorn workers) opens its own connections.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured

from ..conf import rx_settings
from .base import AnchorState, BackendUnavailableError, Broker, Patch, RecordCache, Snapshot
from .memory import MemoryBroker, MemoryRecordCache

if TYPE_CHECKING:
    from .mongo import MongoStore
    from .redis import RedisNode

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


@dataclass(frozen=True)
class _Backends:
    """This process's backends; ``node`` and ``store`` are the connections of the shared ones."""

    pid: int
    cache: RecordCache
    broker: Broker
    node: RedisNode | None = None
    store: MongoStore | None = None


_lock = threading.Lock()
_instances: _Backends | None = None


def _build() -> _Backends:
    settings = rx_settings()
    if not settings.redis_url and not settings.mongo_url:
        return _Backends(os.getpid(), MemoryRecordCache(), MemoryBroker())
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
    cache = SharedRecordCache(node, store, heat_lease=settings.heat_lease)
    return _Backends(os.getpid(), cache, RedisBroker(node), node, store)


def _get() -> _Backends:
    global _instances
    with _lock:
        if _instances is None or _instances.pid != os.getpid():
            _instances = _build()
        return _instances


def get_cache() -> RecordCache:
    return _get().cache


def built_cache() -> RecordCache | None:
    """This process's cache if something built it already (None: nothing here has used the backends)."""
    found = _instances
    return found.cache if found is not None and found.pid == os.getpid() else None


def get_broker() -> Broker:
    return _get().broker


def close() -> None:
    """Drop this process's backends (and their connections); the next use builds them from settings."""
    global _instances
    with _lock:
        found, _instances = _instances, None
    if found is None:
        return
    if found.node is not None:
        found.node.close()
    if found.store is not None:
        found.store.close()


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
    from ..registry import registry  # the channels whose stored records the shared cache drops

    get_cache().reset(registry.channels)
    get_broker().reset()
