"""Selects the record cache and the broker the settings ask for, one instance of each per process."""

from __future__ import annotations

import functools

from django.core.exceptions import ImproperlyConfigured

from ..conf import rx_settings
from .base import AnchorState, Broker, Patch, RecordCache, Snapshot
from .memory import MemoryBroker, MemoryRecordCache

__all__ = [
    "AnchorState",
    "Broker",
    "Patch",
    "RecordCache",
    "Snapshot",
    "get_broker",
    "get_cache",
    "reset",
]


@functools.cache
def get_cache() -> RecordCache:
    if rx_settings().mongo_url:
        raise ImproperlyConfigured("RXGRAPHQL['MONGO_URL'] is set but no MongoDB backend is installed")
    return MemoryRecordCache()


@functools.cache
def get_broker() -> Broker:
    if rx_settings().redis_url:
        raise ImproperlyConfigured("RXGRAPHQL['REDIS_URL'] is set but no Redis backend is installed")
    return MemoryBroker()


def reset() -> None:
    """Forget every cached anchor and subscription of this process (tests, ``migrate``)."""
    get_cache().reset()
    get_broker().reset()
