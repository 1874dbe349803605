"""Redis: patch fan-out between processes, and the coordination of the shared record cache.

One :class:`RedisNode` per process (created lazily, so after any fork) holds:

* a synchronous client for the write path (the flusher thread): publishes, locks, versions, and the
  scripts deferred to ride along with the next publish; under locks, the publishes wait for the unlock
  and go with it (an edit costs two round trips: the lock with the anchor's head and next version, then
  the committed mark, the patch and the unlock);
* the control view (``redis_control``): a thread subscribed to ``<prefix>ctl`` that keeps this process's
  view of the active anchors of every channel, so a save learns whether anyone watches without a round
  trip;
* per event loop, a side (``redis_pubsub``): one pub/sub connection and one reader task, ONE Redis
  subscription per anchor topic per process, reference counted, reconnecting with backoff after an outage
  and then telling the feeds to catch their listeners up from the cache.

The key names and the Lua scripts of every transition are in ``redis_keys``.

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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis

from .base import AnchorState, BackendUnavailableError, Broker, Unsubscribe
from .loops import PerLoop
from .redis_control import ControlView
from .redis_keys import (
    AnchorHead,
    Scripts,
    lock_key,
    state_key,
)
from .redis_pubsub import LoopSide

logger = logging.getLogger("rxgraphql.redis")


class RedisNode:
    """This process's connections to Redis: the write path's client, its locks and pipelines, each event
    loop's side, and the control view of the active anchors."""

    def __init__(self, url: str, subscriber_lease: float = 30.0, lock_timeout: float = 10.0) -> None:
        self.url = url
        self.subscriber_lease = subscriber_lease
        self.lock_timeout = lock_timeout
        self.member_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client: redis.Redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.scripts = Scripts(self.client)
        self.control = ControlView(url, self.client, self.scripts, self._on_notice, self._notify_all_loops)
        self._sides: PerLoop[LoopSide] = PerLoop(lambda loop: LoopSide(self, loop))
        self._reconnect_hooks: list[Callable[[], None]] = []
        self._thread_local = threading.local()
        self.on_idle: Callable[[str, str], Any] | None = None

    # ---- per loop ------------------------------------------------------------------------------

    def side(self) -> LoopSide:
        """The running loop's side (its clients, pub/sub connection and leases)."""
        side = self._sides.get()
        self.control.start()
        return side

    async def ready(self) -> LoopSide:
        """The loop's side, once the control connection has checked which Redis run this is."""
        side = self.side()
        if not self.control.ready.is_set():
            await side.loop.run_in_executor(None, self.control.ready.wait, 5.0)
        return side

    def add_reconnect_hook(self, callback: Callable[[], None]) -> None:
        self._reconnect_hooks.append(callback)

    def reconnected(self, loop: asyncio.AbstractEventLoop) -> None:
        logger.info("rxgraphql Redis connection back: catching up %d hooks", len(self._reconnect_hooks))
        for hook in list(self._reconnect_hooks):
            loop.call_soon(hook)

    def _on_notice(self, channel: str, anchor: str, state: AnchorState) -> None:
        """A transition announced on the control channel (by any process): wake this process's waiters."""
        for side in self._sides.values():
            if not side.loop.is_closed():
                side.loop.call_soon_threadsafe(side.wake, channel, anchor)
                if state is AnchorState.COLD:
                    # Dropped (a failed write, an aborted heat): watchers of it here catch up.
                    side.loop.call_soon_threadsafe(self.reconnected, side.loop)

    def _notify_all_loops(self) -> None:
        for side in self._sides.values():
            if not side.loop.is_closed():
                side.loop.call_soon_threadsafe(self.reconnected, side.loop)

    # ---- locks of the write path --------------------------------------------------------------

    @contextmanager
    def locked(
        self, channel: str, anchors: Collection[str], heads: dict[str, AnchorHead] | None = None
    ) -> Iterator[None]:
        """Hold the write locks of these anchors; ``heads``, when given, receives each anchor's
        ``AnchorHead`` (with the anchor's next version when it is hot) read in the same round trip as its
        lock. While they are held, this thread's publishes and deferred scripts wait and go with the
        unlock, in one pipeline: they are sent, in order, before any other writer can take the locks."""
        token = uuid.uuid4().hex
        held: list[str] = []
        ttl_ms = int(self.lock_timeout * 1000)
        local = self._thread_local.__dict__
        local["holding"] = local.get("holding", 0) + 1
        try:
            for anchor in sorted(anchors):
                key = lock_key(channel, anchor)
                deadline = time.monotonic() + 3 * self.lock_timeout
                pause = 0.002
                while True:
                    reply = self.scripts.lock(
                        keys=[key, state_key(channel, anchor)],
                        args=[token, ttl_ms, "0" if heads is None else "1"],
                    )
                    if reply[0]:
                        break
                    if time.monotonic() > deadline:
                        raise BackendUnavailableError(f"lock {key} not acquired in time")
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                held.append(key)
                if heads is not None:
                    heads[anchor] = AnchorHead.parse(reply[1:])
            yield
        except BaseException:
            local["holding"] -= 1
            self._release(token, held, failed=True)
            raise
        local["holding"] -= 1
        self._release(token, held, failed=False)

    def _release(self, token: str, held: list[str], failed: bool) -> None:
        """Send what waited for the unlock (committed marks, patches), then the unlock, in one pipeline."""
        deferred: list[_Deferred] = [] if self._holding() else self._thread_local.__dict__.pop("deferred", [])
        unlocks: list[_Deferred] = [_Script(self.scripts.unlock, [key], [token]) for key in held]
        try:
            self._send([*deferred, *unlocks])
        except Exception:
            if deferred and not failed:
                raise  # patches may be lost: the batch is propagated again
            logger.warning("rxgraphql could not release %s; they expire by themselves", held)

    def _holding(self) -> bool:
        return bool(self._thread_local.__dict__.get("holding"))

    # ---- pipelines ------------------------------------------------------------------------------

    def defer(self, script: Any, keys: list[Any], args: list[Any]) -> None:
        """Run a script with the next ``publish`` of this thread (or ``flush_deferred``), one round trip."""
        self._deferred().append(_Script(script, keys, args))

    def _deferred(self) -> list[_Deferred]:
        found: list[_Deferred] = self._thread_local.__dict__.setdefault("deferred", [])
        return found

    def flush_deferred(self, topic: str | None = None, data: bytes | None = None) -> None:
        """Run this thread's deferred scripts, then publish ``data`` when given, in one pipeline; while the
        thread holds locks, both wait for the unlock."""
        if topic is not None and data is not None:
            self._deferred().append(_Publish(topic, data))
        if self._holding():
            return
        deferred = self._thread_local.__dict__.pop("deferred", [])
        if deferred:
            self._send(deferred)

    def _send(self, items: list[_Deferred]) -> None:
        """Scripts (``EVALSHA``) and publishes in one pipeline, in order; a script Redis lost is loaded and
        run again (the write path's scripts may run twice)."""
        if not items:
            return
        pipe = self.client.pipeline(transaction=False)
        for item in items:
            if isinstance(item, _Script):
                pipe.evalsha(item.script.sha, len(item.keys), *item.keys, *item.args)
            else:
                pipe.publish(item.topic, item.data)
        replies = pipe.execute(raise_on_error=False)
        for item, reply in zip(items, replies, strict=True):
            if isinstance(item, _Script) and isinstance(reply, redis.exceptions.NoScriptError):
                item.script(keys=item.keys, args=item.args)
            elif isinstance(reply, Exception):
                raise reply

    def close(self) -> None:
        """Stop the control thread and close every connection: the write path's and each event loop's."""
        self.control.stop()
        self._sides.close(LoopSide.close)
        self.client.close()


@dataclass(frozen=True)
class _Script:
    """A script call waiting for the next pipeline."""

    script: Any
    keys: list[Any]
    args: list[Any]


@dataclass(frozen=True)
class _Publish:
    """A publish waiting for the next pipeline."""

    topic: str
    data: bytes


_Deferred = _Script | _Publish


class RedisBroker(Broker):
    """Patch fan-out through Redis pub/sub: a topic per anchor, one subscription per process per topic."""

    def __init__(self, node: RedisNode) -> None:
        self.node = node

    def publish(self, topic: str, data: bytes) -> None:
        # With what the edit deferred (its committed mark), and under locks with the unlock: one round trip.
        self.node.flush_deferred(topic, data)

    async def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        side = await self.node.ready()
        return await side.subscribe(topic, callback)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self.node.add_reconnect_hook(callback)

    def reset(self) -> None:
        """Nothing process-local to forget: subscriptions belong to the feeds that hold them."""
