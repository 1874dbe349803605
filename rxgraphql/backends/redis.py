"""Redis: patch fan-out between processes, and the coordination of the shared record cache.

One :class:`RedisNode` per process (created lazily, so after any fork) holds:

* a synchronous client for the write path (the flusher thread): publishes, locks, versions;
* a control thread subscribed to ``<prefix>ctl`` that keeps this process's view of the active (heating,
  hot, cooling) anchors of every channel, so a save learns whether anyone watches without a round trip;
* per event loop, one pub/sub connection and one reader task: ONE Redis subscription per anchor topic per
  process, reference counted, reconnecting with backoff after an outage and then telling the feeds to
  catch their listeners up from the cache.

Lifecycle of an anchor (hash ``rx:s:<channel>:<anchor>``), every transition one Lua script using the Redis
server clock (``TIME``), never the processes' clocks::

    COLD --begin_heat--> HEATING --finish_heat--> HOT --begin_cool--> COOLING --finish_cool--> COLD
            (lease, renewed by the heater; an expired lease lets the next subscriber take over)

Subscribers are counted per process in a sorted set scored by lease expiry, renewed by a heartbeat, so a
crashed process stops keeping an anchor hot one lease after its last heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from .base import AnchorState, BackendUnavailableError, Unsubscribe

logger = logging.getLogger("rxgraphql.redis")

PREFIX = "rx:"
CONTROL = PREFIX + "ctl"
RESET_MESSAGE = "*reset"
SEP = "\t"

# KEYS: state hash, backlog list, active hash of the channel.
# ARGV: anchor, owner, lease ms, epoch, control channel, message prefix.
BEGIN_HEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local st = redis.call('HGET', KEYS[1], 'state')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0')
if st == 'hot' then return 'hot' end
if (st == 'heating' or st == 'cooling') and lease > now then return 'busy' end
redis.call('HSET', KEYS[1], 'state', 'heating', 'owner', ARGV[2], 'lease', now + tonumber(ARGV[3]),
           'epoch', ARGV[4])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[3], ARGV[1], 'heating')
redis.call('PUBLISH', ARGV[5], ARGV[6] .. 'heating' .. '\t' .. ARGV[2])
return 'claimed'
"""

# KEYS: state hash. ARGV: owner, lease ms, floor version (0: just renew).
RENEW_HEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('HGET', KEYS[1], 'state') ~= 'heating' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return -1
end
redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[2]))
local floor = tonumber(ARGV[3])
if floor > 0 then
  local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
  if ver < floor then redis.call('HSET', KEYS[1], 'ver', floor) end
  return redis.call('HINCRBY', KEYS[1], 'ver', 1)
end
return 0
"""

# KEYS: state hash, backlog, active hash. ARGV: anchor, owner, version, root, control, message prefix.
FINISH_HEAT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'heating' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return false
end
redis.call('HSET', KEYS[1], 'state', 'hot', 'committed', ARGV[3], 'root', ARGV[4])
redis.call('HDEL', KEYS[1], 'owner', 'lease')
redis.call('HSET', KEYS[3], ARGV[1], 'hot')
local backlog = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[5], ARGV[6] .. 'hot')
return backlog
"""

# KEYS: state hash, backlog, active hash. ARGV: anchor, owner, control, message prefix.
ABORT = """
local st = redis.call('HGET', KEYS[1], 'state')
if (st ~= 'heating' and st ~= 'cooling') or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'cold')
redis.call('HDEL', KEYS[1], 'owner', 'lease', 'committed', 'epoch', 'root')
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[4] .. 'cold')
return 1
"""

# KEYS: state hash, backlog. ARGV: items...
NOTE_BACKLOG = """
if redis.call('HGET', KEYS[1], 'state') ~= 'heating' then return 0 end
redis.call('RPUSH', KEYS[2], unpack(ARGV))
return 1
"""

# KEYS: state hash. ARGV: version.
COMMITTED = """
local c = tonumber(redis.call('HGET', KEYS[1], 'committed') or '0')
if c < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'committed', ARGV[1]) end
return 1
"""

# KEYS: state hash, members zset. ARGV: member, lease ms, ttl ms, remove (1) or add (0).
MEMBER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
end
redis.call('HSET', KEYS[1], 'seen', now, 'ttl', ARGV[3])
return now
"""

# KEYS: state hash, members zset, active hash. ARGV: anchor, owner, lease ms, control, message prefix,
# apply (1) or only look (0), orphan (1: the anchor is not active, its stored records are leftovers).
# Returns {verdict, idle ms}.
BEGIN_COOL = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local st = redis.call('HGET', KEYS[1], 'state')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0')
if ARGV[7] == '1' then
  if st == 'hot' or ((st == 'heating' or st == 'cooling') and lease > now) then return {'active', 0} end
else
  if st ~= 'hot' then return {st or 'cold', 0} end
  if redis.call('ZCOUNT', KEYS[2], now, '+inf') > 0 then return {'watched', 0} end
  local idle = now - tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
  if idle < tonumber(redis.call('HGET', KEYS[1], 'ttl') or '0') then return {'fresh', idle} end
end
local idle = now - tonumber(redis.call('HGET', KEYS[1], 'seen') or '0')
if ARGV[6] ~= '1' then return {'expire', idle} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('HSET', KEYS[1], 'state', 'cooling', 'owner', ARGV[2], 'lease', now + tonumber(ARGV[3]))
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. 'cooling')
return {'expire', idle}
"""

# KEYS: state hash, backlog. ARGV: owner, control, message prefix.
FINISH_COOL = """
if redis.call('HGET', KEYS[1], 'state') ~= 'cooling' or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[3] .. 'cold')
return 1
"""

# KEYS: state hash, backlog, active hash. ARGV: anchor, control, message prefix.
DROP = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3] .. 'cold')
return 1
"""

UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: run id key. ARGV: run id of the server. 1 when the caller must wipe the state of a former run.
CLAIM_RUN = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def state_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}s:{channel}:{anchor}"


def backlog_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}b:{channel}:{anchor}"


def members_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}m:{channel}:{anchor}"


def lock_key(channel: str, anchor: str) -> str:
    return f"{PREFIX}l:{channel}:{anchor}"


def active_key(channel: str) -> str:
    return f"{PREFIX}act:{channel}"


def message_prefix(channel: str, anchor: str) -> str:
    return f"{channel}{SEP}{anchor}{SEP}"


def unavailable(error: BaseException) -> bool:
    return isinstance(error, RedisConnectionError | RedisTimeoutError)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Scripts:
    def __init__(self, client: redis.Redis) -> None:
        self.begin_heat = client.register_script(BEGIN_HEAT)
        self.renew_heat = client.register_script(RENEW_HEAT)
        self.finish_heat = client.register_script(FINISH_HEAT)
        self.abort = client.register_script(ABORT)
        self.note_backlog = client.register_script(NOTE_BACKLOG)
        self.committed = client.register_script(COMMITTED)
        self.member = client.register_script(MEMBER)
        self.begin_cool = client.register_script(BEGIN_COOL)
        self.finish_cool = client.register_script(FINISH_COOL)
        self.unlock = client.register_script(UNLOCK)
        self.drop = client.register_script(DROP)
        self.claim_run = client.register_script(CLAIM_RUN)


class _AsyncScripts:
    def __init__(self, client: aredis.Redis) -> None:
        self.begin_heat = client.register_script(BEGIN_HEAT)
        self.renew_heat = client.register_script(RENEW_HEAT)
        self.finish_heat = client.register_script(FINISH_HEAT)
        self.abort = client.register_script(ABORT)
        self.member = client.register_script(MEMBER)
        self.begin_cool = client.register_script(BEGIN_COOL)
        self.finish_cool = client.register_script(FINISH_COOL)


class _LoopSide:
    """What one event loop of this process holds: an async client, the pub/sub connection, its reader."""

    def __init__(self, node: RedisNode, loop: asyncio.AbstractEventLoop) -> None:
        self.node = node
        self.loop = loop
        self.client: aredis.Redis = aredis.Redis.from_url(node.url)
        # The pub/sub connection must not reconnect silently inside redis-py: an outage has to surface
        # here so that the feeds catch up with what was published meanwhile.
        self.pubsub_client: aredis.Redis = aredis.Redis.from_url(node.url, retry=AsyncRetry(NoBackoff(), 0))
        self.scripts = _AsyncScripts(self.client)
        self.topics: dict[str, list[Callable[[bytes], None]]] = defaultdict(list)
        self.confirmed: dict[str, asyncio.Future[None]] = {}
        self.pubsub: Any = None
        self.send_lock = asyncio.Lock()
        self.reader: asyncio.Task[None] | None = None
        self.heartbeat: asyncio.Task[None] | None = None
        self.retained: dict[tuple[str, str], tuple[int, float]] = {}
        self.waiters: dict[tuple[str, str], list[asyncio.Future[None]]] = defaultdict(list)
        self.connected = asyncio.Event()

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
            kind = _text(message["type"])
            channel = _text(message["channel"])
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


class RedisNode:
    """This process's connections to Redis, its view of the active anchors, and the control thread."""

    def __init__(self, url: str, subscriber_lease: float = 30.0, lock_timeout: float = 10.0) -> None:
        self.url = url
        self.subscriber_lease = subscriber_lease
        self.lock_timeout = lock_timeout
        self.pid = os.getpid()
        self.member_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client: redis.Redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.scripts = _Scripts(self.client)
        # Without redis-py's silent reconnects: the control thread must see every outage (see _LoopSide).
        self.control_client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        self._lock = threading.Lock()
        self._view: dict[str, dict[str, str]] = {}
        self._loaded: set[str] = set()
        self._recent: dict[str, set[str]] = defaultdict(set)
        self._healthy = False
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sides: dict[asyncio.AbstractEventLoop, _LoopSide] = {}
        self._reconnect_hooks: list[Callable[[], None]] = []
        self._seen_own: dict[str, threading.Event] = {}
        self.on_idle: Callable[[str, str], Any] | None = None

    # ---- per loop ------------------------------------------------------------------------------

    def side(self) -> _LoopSide:
        loop = asyncio.get_running_loop()
        side = self._sides.get(loop)
        if side is None:
            for other in [lp for lp in self._sides if lp.is_closed()]:
                del self._sides[other]
            side = self._sides[loop] = _LoopSide(self, loop)
        self.start_control()
        return side

    async def ready(self) -> _LoopSide:
        """The loop's side, once the control connection has checked which Redis run this is."""
        side = self.side()
        if not self._ready.is_set():
            await side.loop.run_in_executor(None, self._ready.wait, 5.0)
        return side

    def add_reconnect_hook(self, callback: Callable[[], None]) -> None:
        self._reconnect_hooks.append(callback)

    def reconnected(self, loop: asyncio.AbstractEventLoop) -> None:
        logger.info("rxgraphql Redis connection back: catching up %d hooks", len(self._reconnect_hooks))
        for hook in list(self._reconnect_hooks):
            loop.call_soon(hook)

    # ---- the control thread and the view of active anchors ------------------------------------

    def start_control(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._control, name="rxgraphql-redis-control", daemon=True)
            self._thread.start()

    def _control(self) -> None:
        delay = 0.05
        first = True
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.control_client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                pubsub.subscribe(CONTROL)
                self._claim_run()
                with self._lock:
                    self._loaded.clear()
                    self._view.clear()
                    self._healthy = True
                self._ready.set()
                if not first:
                    self._notify_all_loops()
                first = False
                delay = 0.05
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._on_control(_text(message["data"]))
            except Exception as error:
                with self._lock:
                    self._healthy = False
                if not self._stop.is_set():
                    logger.warning("rxgraphql control connection lost (%s); reconnecting", error)
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        logger.debug("closing the control connection failed")

    def _claim_run(self) -> None:
        """After a Redis restart (a new run id), the first process to notice forgets the former state.

        A restored snapshot would roll versions back, and without persistence the state is gone anyway:
        every anchor becomes cold and heats again from the database with a new epoch.
        """
        run_id = _text(self.client.info("server").get("run_id", ""))
        if not self.scripts.claim_run(keys=[PREFIX + "runid"], args=[run_id]):
            return
        stale: list[Any] = []
        for pattern in ("s:*", "b:*", "l:*", "act:*", "m:*"):
            stale.extend(self.client.scan_iter(match=PREFIX + pattern, count=1000))
        for start in range(0, len(stale), 500):
            self.client.unlink(*stale[start : start + 500])
        self.client.publish(CONTROL, RESET_MESSAGE)

    def _on_control(self, data: str) -> None:
        if data == RESET_MESSAGE:
            with self._lock:
                self._loaded.clear()
                self._view.clear()
            self._notify_all_loops()
            return
        parts = data.split(SEP)
        if len(parts) < 3:
            return
        channel, anchor, state = parts[0], parts[1], parts[2]
        with self._lock:
            if channel not in self._loaded:
                self._recent[channel].add(anchor)
            view = self._view.setdefault(channel, {})
            if state in ("heating", "hot"):
                view[anchor] = state
            else:
                view.pop(anchor, None)
        if len(parts) > 3:
            seen = self._seen_own.pop(parts[3], None)
            if seen is not None:
                seen.set()
        for side in list(self._sides.values()):
            if not side.loop.is_closed():
                side.loop.call_soon_threadsafe(side.wake, channel, anchor)
                if state == "cold":
                    # Dropped (a failed write, an aborted heat): watchers of it here catch up.
                    side.loop.call_soon_threadsafe(self.reconnected, side.loop)

    def apply_local(self, channel: str, anchor: str, state: str) -> None:
        """A transition this process made: known here at once, before its notice comes back."""
        with self._lock:
            view = self._view.setdefault(channel, {})
            if state in ("heating", "hot"):
                view[anchor] = state
            else:
                view.pop(anchor, None)

    def _notify_all_loops(self) -> None:
        for side in list(self._sides.values()):
            if not side.loop.is_closed():
                side.loop.call_soon_threadsafe(self.reconnected, side.loop)

    def view(self, channel: str) -> dict[str, str]:
        """The anchors of a channel that are heating or hot, as this process knows them."""
        self.start_control()
        self._ready.wait(2.0)
        with self._lock:
            if self._healthy and channel in self._loaded:
                return self._view.get(channel, {})
            self._recent[channel] = set()
        # First use of the channel in this process, or the control connection is down: ask Redis.
        try:
            raw = self.client.hgetall(active_key(channel))
        except Exception as error:
            if unavailable(error):
                raise BackendUnavailableError(str(error)) from error
            raise
        loaded = {_text(k): _text(v) for k, v in raw.items() if _text(v) in ("heating", "hot")}
        with self._lock:
            if self._healthy:
                # A control message that arrived during the load is newer than what the load read.
                recent = self._recent.pop(channel, set())
                merged = self._view.setdefault(channel, {})
                for anchor in list(merged):
                    if anchor not in recent and anchor not in loaded:
                        del merged[anchor]
                for anchor, state in loaded.items():
                    if anchor not in recent:
                        merged[anchor] = state
                self._loaded.add(channel)
                return merged
        return loaded

    def expect_own(self, token: str) -> threading.Event:
        event = threading.Event()
        self._seen_own[token] = event
        return event

    # ---- locks of the write path --------------------------------------------------------------

    @contextmanager
    def locked(self, channel: str, anchors: Collection[str]) -> Iterator[None]:
        token = uuid.uuid4().hex
        held: list[str] = []
        ttl_ms = int(self.lock_timeout * 1000)
        try:
            for anchor in sorted(anchors):
                key = lock_key(channel, anchor)
                deadline = time.monotonic() + 3 * self.lock_timeout
                pause = 0.002
                while not self.client.set(key, token, nx=True, px=ttl_ms):
                    if time.monotonic() > deadline:
                        raise BackendUnavailableError(f"lock {key} not acquired in time")
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                held.append(key)
            yield
        finally:
            for key in held:
                try:
                    self.scripts.unlock(keys=[key], args=[token])
                except Exception:
                    logger.warning("rxgraphql could not release %s; it expires by itself", key)

    def close(self) -> None:
        self._stop.set()
        self.client.close()
        self.control_client.close()


class RedisBroker:
    """Patch fan-out through Redis pub/sub: a topic per anchor, one subscription per process per topic."""

    def __init__(self, node: RedisNode) -> None:
        self.node = node

    def publish(self, topic: str, data: bytes) -> None:
        self.node.client.publish(topic, data)

    async def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        side = await self.node.ready()
        return await side.subscribe(topic, callback)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self.node.add_reconnect_hook(callback)

    def reset(self) -> None:
        """Nothing process-local to forget: subscriptions belong to the feeds that hold them."""


def state_of(raw: dict[Any, Any]) -> AnchorState:
    value = _text(raw.get(b"state", raw.get("state", b"cold")))
    try:
        return AnchorState(value)
    except ValueError:
        return AnchorState.COLD


def encode_items(items: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{label}{SEP}{pk}" for label, pk in items]


def decode_items(raw: Iterable[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in raw:
        label, _, pk = _text(item).partition(SEP)
        out.append((label, pk))
    return out
