"""Backends under test: the embedded ones and the shared (Redis + MongoDB) ones, behind the same protocols.

Redis is a private redis-server started for the session. MongoDB is a real server when
``RXGRAPHQL_TEST_MONGO_URL`` is set, otherwise the STAND-IN of ``tests.support.mongo_standin``; the test ids
say which (``shared-mongo-server`` / ``shared-mongo-standin``) and a warning repeats it in the summary.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from rxgraphql.backends.base import Broker, RecordCache
from rxgraphql.backends.memory import MemoryBroker, MemoryRecordCache
from tests.support.mongo_standin import StandinServer
from tests.support.redis_server import RedisServer

MONGO_URL = os.environ.get("RXGRAPHQL_TEST_MONGO_URL")
MONGO_KIND = "mongo-server" if MONGO_URL else "mongo-standin"
SHARED = f"shared-{MONGO_KIND}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    if MONGO_URL:
        warnings.warn(f"MongoDB tests run against the real server {MONGO_URL}", stacklevel=1)
        yield MONGO_URL
        return
    warnings.warn(
        "MongoDB tests run against the STAND-IN (an indexed in-memory engine behind the wire protocol); "
        "set RXGRAPHQL_TEST_MONGO_URL to use a real server",
        stacklevel=1,
    )
    server = StandinServer().start()
    try:
        yield server.url
    finally:
        server.shutdown()


def make_shared(redis_url: str, mongo_url: str, database: str, **store_options: Any) -> object:
    from rxgraphql.backends.mongo import MongoStore
    from rxgraphql.backends.redis import RedisBroker, RedisNode
    from rxgraphql.backends.shared import SharedRecordCache

    node = RedisNode(redis_url, subscriber_lease=3.0, lock_timeout=5.0)
    store = MongoStore(mongo_url, database, **store_options)
    return SharedRecordCache(node, store, heat_lease=1.5), RedisBroker(node)


@pytest.fixture(params=["memory", SHARED])
async def backends(
    request: pytest.FixtureRequest, redis_server: RedisServer, mongo_url: str
) -> AsyncIterator[tuple[RecordCache, Broker]]:
    if request.param == "memory":
        yield MemoryRecordCache(), MemoryBroker()
        return
    redis_server.client().flushall()
    database = f"rxtest_{uuid.uuid4().hex[:8]}"
    cache, broker = make_shared(redis_server.url, mongo_url, database)  # type: ignore[misc]
    try:
        yield cache, broker
    finally:
        cache.store.sync_db().client.drop_database(database)
        cache.node.close()
        cache.store.close()


@pytest.fixture
def cache(backends: tuple[RecordCache, Broker]) -> RecordCache:
    return backends[0]


@pytest.fixture
def broker(backends: tuple[RecordCache, Broker]) -> Broker:
    return backends[1]
