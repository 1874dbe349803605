"""One event loop's side of the Redis node: its pub/sub connection, reader task and subscriber leases.

ONE Redis subscription per anchor topic per process, reference counted; after an outage the reader
reconnects with backoff, resubscribes and tells the feeds to catch their listeners up from the cache.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from .base import BackendUnavailableError, Unsubscribe
from .redis_keys import (
    AsyncScripts,
    as_text,
    members_key,
    state_key,
    unavailable,
)

if TYPE_CHECKING:
    from .redis import RedisNode

logger = logging.getLogger("rxgraphql.redis")


class LoopSide:
    """What one event loop of this process holds: an async client, the pub/sub connection, its reader."""

    def __init__(self, node: RedisNode, loop: asyncio.AbstractEventLoop) -> None:
        self.node = node
        self.loop = loop
        self.client: aredis.Redis = aredis.Redis.from_url(node.url)
        # The pub/sub connection must not reconnect silently inside redis-py: an outage has to surface
        # here so that the feeds catch up with what was published meanwhile.
        self.pubsub_client: aredis.Redis = aredis.Redis.from_url(node.url, retry=AsyncRetry(NoBackoff(), 0))
        self.scripts = AsyncScripts(self.client)
        self.topics: dict[str, list[Callable[[bytes], None]]] = defaultdict(list)
        self.confirmed: dict[str, asyncio.Future[None]] = {}
        self.pubsub: Any = None
        self.send_lock = asyncio.Lock()
        self.reader: asyncio.Task[None] | None = None
        self.heartbeat: asyncio.Task[None] | None = None
        self.retained: dict[tuple[str, str], tuple[int, float]] = {}
        self.waiters: dict[tuple[str, str], list[asyncio.Future[None]]] = defaultdict(list)

    async def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        self._ensure_reader()
        self.topics[topic].append(callback)
        if len(self.topics[topic]) == 1 or topic in self.confirmed:
            await self._send_subscribe(topic)

        def unsubscribe() -> None:
            callbacks = self.topics.get(topic)
            if callbacks and callback in callbacks:
                callbacks.remove(callback)
                if not callbacks:
                    del self.topics[topic]
                    self.loop.create_task(self._send_unsubscribe(topic))

        return unsubscribe

    async def _send_subscribe(self, topic: str) -> None:
        future = self.confirmed.get(topic)
        if future is None or future.done():
            future = self.confirmed[topic] = self.loop.create_future()
            try:
                async with self.send_lock:
                    await self._pubsub().subscribe(topic)
            except Exception as error:
                self.confirmed.pop(topic, None)
                raise BackendUnavailableError(f"cannot subscribe {topic}: {error}") from error
        await asyncio.wait_for(asyncio.shield(future), 10.0)

    async def _send_unsubscribe(self, topic: str) -> None:
        if topic in self.topics:
            return
        self.confirmed.pop(topic, None)
        try:
            async with self.send_lock:
                if topic not in self.topics:
                    await self._pubsub().unsubscribe(topic)
        except Exception:
            logger.debug("unsubscribe %s failed (the connection is being replaced)", topic)

    def _pubsub(self) -> Any:
        if self.pubsub is None:
            self.pubsub = self.pubsub_client.pubsub()
        return self.pubsub

    def _ensure_reader(self) -> None:
        if self.reader is None or self.reader.done():
            self.reader = self.loop.create_task(self._read())
        if self.heartbeat is None or self.heartbeat.done():
            self.heartbeat = self.loop.create_task(self._beat())

    async def _read(self) -> None:
        delay = 0.05
        while True:
            pubsub = self._pubsub()
            try:
                if not pubsub.subscribed:
                    await asyncio.sleep(0.05)
                    continue
                message = await pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                delay = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("rxgraphql pub/sub connection lost (%s); reconnecting", error)
                try:
                    await self._reconnect(delay)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("rxgraphql pub/sub reconnection failed; trying again")
                delay = min(delay * 2, 2.0)
                continue
            if message is None:
                continue
            kind = as_text(message["type"])
            channel = as_text(message["channel"])
            if kind == "subscribe":
                future = self.confirmed.get(channel)
                if future is not None and not future.done():
                    future.set_result(None)
            elif kind == "message":
                for callback in list(self.topics.get(channel, ())):
                    try:
                        callback(message["data"])
                    except Exception:
                        logger.exception("a subscriber of %s failed", channel)

    async def _reconnect(self, delay: float) -> None:
        old, self.pubsub = self.pubsub, None
        for future in self.confirmed.values():
            if not future.done():
                future.cancel()
        self.confirmed = {}
        if old is not None:
            try:
                await old.aclose()
            except Exception:
                logger.debug("closing the broken pub/sub connection failed")
        while True:
            await asyncio.sleep(delay)
            try:
                topics = list(self.topics)
                pubsub = self._pubsub()
                if topics:
                    for topic in topics:
                        self.confirmed[topic] = self.loop.create_future()
                    async with self.send_lock:
                        await pubsub.subscribe(*topics)
                else:
                    await self.client.ping()
                break
            except Exception as error:
                logger.warning("rxgraphql Redis still unreachable (%s)", error)
                self.pubsub = None
                self.confirmed = {}
                delay = min(delay * 2, 2.0)
        # Keep holding the anchors this process watches, then let the feeds catch up.
        try:
            await self._beat_once()
        except Exception as error:
            logger.warning("rxgraphql heartbeat after reconnecting failed (%s)", error)
        self.node.reconnected(self.loop)

    async def retain(self, channel: str, anchor: str, ttl: float) -> None:
        self._ensure_reader()
        count, _ = self.retained.get((channel, anchor), (0, ttl))
        self.retained[(channel, anchor)] = (count + 1, ttl)
        if count == 0:
            await self._member(channel, anchor, ttl, remove=False)

    async def release(self, channel: str, anchor: str, ttl: float) -> None:
        count, _ = self.retained.get((channel, anchor), (1, ttl))
        if count > 1:
            self.retained[(channel, anchor)] = (count - 1, ttl)
            return
        self.retained.pop((channel, anchor), None)
        await self._member(channel, anchor, ttl, remove=True)
        self.loop.call_later(ttl + 0.05, self._expire_later, channel, anchor)

    def _expire_later(self, channel: str, anchor: str) -> None:
        if (channel, anchor) in self.retained:
            return
        cool = self.node.on_idle
        if cool is not None:
            self.loop.create_task(cool(channel, anchor))

    async def _member(self, channel: str, anchor: str, ttl: float, remove: bool) -> None:
        try:
            await self.scripts.member(
                keys=[state_key(channel, anchor), members_key(channel, anchor)],
                args=[
                    self.node.member_id,
                    int(self.node.subscriber_lease * 1000),
                    int(ttl * 1000),
                    "1" if remove else "0",
                ],
            )
        except Exception as error:
            if not unavailable(error):
                raise
            # The heartbeat after the outage re-registers what is still retained.
            logger.warning("rxgraphql could not update the subscribers of %s (%s)", anchor, error)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.node.subscriber_lease / 3)
            try:
                await self._beat_once()
            except Exception as error:
                logger.warning("rxgraphql heartbeat failed (%s)", error)

    async def _beat_once(self) -> None:
        if not self.retained:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for (channel, anchor), (_, ttl) in list(self.retained.items()):
                await self.scripts.member(
                    keys=[state_key(channel, anchor), members_key(channel, anchor)],
                    args=[self.node.member_id, int(self.node.subscriber_lease * 1000), int(ttl * 1000), "0"],
                    client=pipe,
                )
            await pipe.execute()

    def wake(self, channel: str, anchor: str) -> None:
        for future in self.waiters.pop((channel, anchor), ()):
            if not future.done():
                future.set_result(None)

    async def close(self) -> None:
        for task in (self.reader, self.heartbeat):
            if task is not None:
                task.cancel()
        if self.pubsub is not None:
            try:
                await self.pubsub.aclose()
            except Exception:
                logger.debug("closing pub/sub failed")
        await self.client.aclose()
        await self.pubsub_client.aclose()
