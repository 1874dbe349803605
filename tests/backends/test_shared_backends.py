"""What only the shared backends have: one Redis subscription per process, leases, versions, chunks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis

from rxgraphql.backends.mongo import MongoStore
from rxgraphql.backends.redis import RedisBroker
from rxgraphql.backends.shared import SharedRecordCache
from tests.backends.conftest import make_shared
from tests.backends.test_cache_conformance import BOARD, CHANNEL, TREE, rec
from tests.support.aio import LoopThread
from tests.support.redis_server import RedisServer
from tests.support.waiting import async_wait_until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def database(redis_server: RedisServer, mongo_url: str) -> Iterator[str]:
    redis_server.client().flushall()
    name = f"rxtest_{uuid.uuid4().hex[:8]}"
    yield name
    MongoStore(mongo_url, name).sync_db().client.drop_database(name)


@pytest.fixture
async def two(
    redis_server: RedisServer, mongo_url: str, database: str
) -> AsyncIterator[list[tuple[SharedRecordCache, RedisBroker]]]:
    """Two independent nodes: as two processes would see the same Redis and MongoDB."""
    made = [make_shared(redis_server.url, mongo_url, database) for _ in range(2)]
    yield made  # type: ignore[misc]
    for cache, _ in made:  # type: ignore[misc]
        cache.node.close()


async def test_one_redis_subscription_per_topic_per_process(
    two: list[tuple[SharedRecordCache, RedisBroker]], redis_server: RedisServer
) -> None:
    (_, broker_a), (_, broker_b) = two
    client = redis_server.client()
    stops = [await broker_a.subscribe("rx:c:9", lambda _: None) for _ in range(5)]
    stops.append(await broker_b.subscribe("rx:c:9", lambda _: None))
    assert client.pubsub_numsub("rx:c:9") == [(b"rx:c:9", 2)], "one per process, not one per listener"
    for stop in stops[:5]:
        stop()

    async def one_left() -> bool:
        return bool(client.pubsub_numsub("rx:c:9") == [(b"rx:c:9", 1)])

    await async_wait_until(one_left, "the first process's last listener leaves: one subscription is left")
    stops[5]()


def _redis_ms(client: redis.Redis) -> int:
    """The Redis server's clock in milliseconds: the clock the lease scripts compare with."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def test_a_dead_heater_lets_the_next_subscriber_heat_after_its_lease(
    two: list[tuple[SharedRecordCache, RedisBroker]], redis_server: RedisServer
) -> None:
    (dead, _), (alive, _) = two
    client = redis_server.client()
    assert await dead.begin_heat(CHANNEL, "1")
    dead._heats[(CHANNEL, "1")].renewal.cancel()  # the process stops renewing: it died
    # No duration is measured: each attempt is compared with the lease on Redis's own clock. An attempt
    # claims only once the lease has run out; until then every attempt is refused.
    deadline = _redis_ms(client) + 60_000  # hang guard
    while True:
        lease = float(client.hget(f"rx:s:{CHANNEL}:1", "lease") or 0)
        claimed = await alive.begin_heat(CHANNEL, "1")
        ended = _redis_ms(client)
        if claimed:
            assert ended >= lease, f"claimed at {ended} while the dead heater's lease ran until {lease:.0f}"
            break
        assert ended < deadline, "the dead heater's lease never expired"
        await alive.wait_hot(CHANNEL, "1")
    await alive.finish_heat(CHANNEL, "1", BOARD, TREE)
    # The dead heater's late finish is refused and changes nothing.
    assert await dead.finish_heat(CHANNEL, "1", BOARD, TREE[:1]) == []
    snap = await alive.snapshot(CHANNEL, "1", None)
    assert snap is not None
    assert len(snap.records) == len(TREE)


async def test_a_live_heater_keeps_its_lease(
    two: list[tuple[SharedRecordCache, RedisBroker]], redis_server: RedisServer
) -> None:
    (heater, _), (other, _) = two
    client = redis_server.client()
    assert await heater.begin_heat(CHANNEL, "1")
    first_lease = float(client.hget(f"rx:s:{CHANNEL}:1", "lease") or 0)

    async def first_lease_over() -> bool:
        return _redis_ms(client) > first_lease

    # Past the end of the lease it was claimed with (Redis's clock): only renewals keep it.
    await async_wait_until(first_lease_over, "the Redis clock passes the first lease")
    assert not await other.begin_heat(CHANNEL, "1")
    await heater.finish_heat(CHANNEL, "1", BOARD, TREE)
    assert await other.snapshot(CHANNEL, "1", None) is not None


async def test_other_processes_learn_the_active_anchors_without_asking(
    two: list[tuple[SharedRecordCache, RedisBroker]],
) -> None:
    (heater, _), (writer, _) = two
    assert writer.active_anchors(CHANNEL) == []
    assert await heater.begin_heat(CHANNEL, "7")

    # The other process learns it from the notice begin_heat published through Redis.
    async def heating_seen() -> bool:
        return list(writer.heating_anchors(CHANNEL)) == ["7"]

    await async_wait_until(heating_seen, "the other process sees anchor 7 heating")
    await heater.finish_heat(CHANNEL, "7", ("Board", "7"), [(("Board", "7"), rec("Board", "7"), [])])

    async def hot_seen() -> bool:
        return not writer.heating_anchors(CHANNEL)

    await async_wait_until(hot_seen, "the other process sees anchor 7 hot")
    assert list(writer.active_anchors(CHANNEL)) == ["7"]


async def test_an_older_version_never_overwrites_a_newer_record(
    two: list[tuple[SharedRecordCache, RedisBroker]],
) -> None:
    (cache, _), _ = two
    assert await cache.begin_heat(CHANNEL, "1")
    await cache.finish_heat(CHANNEL, "1", BOARD, TREE)
    snap = await cache.snapshot(CHANNEL, "1", None)
    assert snap is not None
    key = ("Card", "100")
    cache.store.write(
        CHANNEL, "1", snap.epoch, snap.version + 10, {key: (rec("Card", "100", title="new"), [])}, []
    )
    cache.store.write(
        CHANNEL, "1", snap.epoch, snap.version + 5, {key: (rec("Card", "100", title="old"), [])}, []
    )
    cache.store.write(CHANNEL, "1", snap.epoch, snap.version + 6, {}, [key])
    loaded = cache.store.load(CHANNEL, "1", snap.epoch, key)
    assert loaded is not None
    assert loaded[0]["title"] == "new"


async def test_records_too_large_for_one_document_are_split_and_reassembled(
    redis_server: RedisServer, mongo_url: str, database: str
) -> None:
    cache, _ = make_shared(redis_server.url, mongo_url, database, max_inline=2000, chunk_size=700)  # type: ignore[misc]
    try:
        big = rec("Card", "100", title="x" * 5000)
        tree = [*TREE[:3], (("Card", "100"), big, [])]
        assert await cache.begin_heat(CHANNEL, "1")
        await cache.finish_heat(CHANNEL, "1", BOARD, tree)
        snap = await cache.snapshot(CHANNEL, "1", None)
        assert snap is not None
        assert [r for r in snap.records if r["id"] == "100"] == [big]
        chunks = cache.store.chunks(CHANNEL)
        assert chunks.count_documents({"a": "1"}) == 8
        bigger = rec("Card", "100", title="y" * 9000)
        with cache.lock(CHANNEL, ["1"]), cache.edit(CHANNEL, "1") as edit:
            assert edit is not None
            assert edit.get(("Card", "100")) == big
            edit.put(("Card", "100"), bigger, [])
            patch = edit.commit()
        assert patch is not None
        assert patch.records == [bigger]
        since = await cache.snapshot(CHANNEL, "1", (snap.epoch, snap.version))
        assert since is not None
        assert since.records == [bigger]
        assert chunks.count_documents({"a": "1"}) == 13, "the former version's chunks are gone"
        small = rec("Card", "100", title="z")
        with cache.lock(CHANNEL, ["1"]), cache.edit(CHANNEL, "1") as edit:
            assert edit is not None
            edit.put(("Card", "100"), small, [])
            edit.commit()
        assert chunks.count_documents({"a": "1"}) == 0
        full = await cache.snapshot(CHANNEL, "1", None)
        assert full is not None
        assert small in full.records
    finally:
        cache.node.close()


async def test_a_real_17_mb_record(redis_server: RedisServer, mongo_url: str, database: str) -> None:
    cache, _ = make_shared(redis_server.url, mongo_url, database)  # type: ignore[misc]
    try:
        huge = rec("Card", "100", title="h" * (17 * 1024 * 1024))
        tree = [*TREE[:3], (("Card", "100"), huge, [])]
        assert await cache.begin_heat(CHANNEL, "1")
        await cache.finish_heat(CHANNEL, "1", BOARD, tree)
        snap = await cache.snapshot(CHANNEL, "1", None)
        assert snap is not None
        (found,) = [r for r in snap.records if r["id"] == "100"]
        assert len(found["title"]) == len(huge["title"])
    finally:
        cache.node.close()


async def test_subscribers_of_a_crashed_process_stop_counting_after_their_lease(
    two: list[tuple[SharedRecordCache, RedisBroker]],
) -> None:
    (crashed, _), (other, _) = two
    assert await crashed.begin_heat(CHANNEL, "1")
    await crashed.finish_heat(CHANNEL, "1", BOARD, TREE)
    await crashed.retain(CHANNEL, "1", 0.0)
    side = crashed.node.side()
    assert side.heartbeat is not None
    side.heartbeat.cancel()  # the process is gone: no heartbeat, no release
    assert other.expire_idle([CHANNEL], dry_run=True) == []
    listed: list[Any] = []

    async def expirable() -> bool:
        listed[:] = other.expire_idle([CHANNEL], dry_run=True)
        return bool(listed)

    await async_wait_until(expirable, "the crashed process's subscriber lease runs out", every=0.2)
    assert [(e.anchor, e.records) for e in listed] == [("1", len(TREE))]
    assert other.expire_idle(["other.channels.OtherChannel"], dry_run=True) == [], "only the channels named"
    assert await other.snapshot(CHANNEL, "1", None) is not None, "a dry run frees nothing"
    listed = other.expire_idle([CHANNEL])
    assert [(e.anchor, e.records) for e in listed] == [("1", len(TREE))]
    assert await other.snapshot(CHANNEL, "1", None) is None


async def test_the_reader_reconnects_after_a_redis_restart_and_asks_for_a_catch_up(
    mongo_url: str, database: str
) -> None:
    server = RedisServer().start()
    cache, broker = make_shared(server.url, mongo_url, database)  # type: ignore[misc]
    try:
        box: list[bytes] = []
        caught_up = asyncio.Event()
        broker.on_reconnect(caught_up.set)
        await broker.subscribe("rx:c:1", box.append)
        server.kill()
        await asyncio.sleep(0.3)
        server.start()
        await asyncio.wait_for(caught_up.wait(), 15)
        publisher = redis.Redis(port=server.port)

        async def delivered() -> bool:
            if not box:
                publisher.publish("rx:c:1", b"after")
            return bool(box)

        await async_wait_until(delivered, "a message published after the restart arrives", every=0.1)
        assert box[0] == b"after"
    finally:
        cache.node.close()
        server.stop()


async def test_a_failed_write_drops_the_anchor_and_its_watchers_catch_up(
    two: list[tuple[SharedRecordCache, RedisBroker]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (writer, _), (server, broker) = two
    assert await server.begin_heat(CHANNEL, "1")
    await server.finish_heat(CHANNEL, "1", BOARD, TREE)
    caught_up = asyncio.Event()
    broker.on_reconnect(caught_up.set)
    await broker.subscribe("rx:c:1", lambda _: None)

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("MongoDB went away mid-write")

    monkeypatch.setattr(writer.store, "write", broken)
    with writer.edit(CHANNEL, "1") as edit:
        assert edit is not None
        edit.put(("Card", "100"), rec("Card", "100", title="half written"), [])
        with pytest.raises(ConnectionError):
            edit.commit()
    assert await server.snapshot(CHANNEL, "1", None) is None, "nobody trusts a half-written anchor"
    await asyncio.wait_for(caught_up.wait(), 5)


async def test_closing_the_node_closes_the_connections_of_every_event_loop(
    redis_server: RedisServer, mongo_url: str, database: str
) -> None:
    client = redis_server.client()
    before = len(client.client_list())
    cache, broker = make_shared(redis_server.url, mongo_url, database)  # type: ignore[misc]
    elsewhere = LoopThread()
    try:
        await broker.subscribe("rx:c:close", lambda _: None)
        elsewhere.run(broker.subscribe("rx:c:close", lambda _: None))
        assert client.pubsub_numsub("rx:c:close") == [(b"rx:c:close", 2)], "one connection per loop"
        cache.node.close()

        async def all_closed() -> bool:
            unsubscribed = client.pubsub_numsub("rx:c:close") == [(b"rx:c:close", 0)]
            return unsubscribed and len(client.client_list()) <= before

        await async_wait_until(all_closed, "every loop's pub/sub and client connections are closed")
    finally:
        elsewhere.close()
        cache.store.close()
