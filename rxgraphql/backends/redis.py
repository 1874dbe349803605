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
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import AnchorState, BackendUnavailableError, Broker, Unsubscribe
from .loops import PerLoop
from .redis_keys import (
    CONTROL,
    PREFIX,
    RESET_MESSAGE,
    SEP,
    Scripts,
    active_key,
    as_text,
    lock_key,
    parse_state,
    state_key,
    unavailable,
)
from .redis_pubsub import LoopSide

logger = logging.getLogger("rxgraphql.redis")


class RedisNode:
    """This process's connections to Redis, its view of the active anchors, and the control thread."""

    def __init__(self, url: str, subscriber_lease: float = 30.0, lock_timeout: float = 10.0) -> None:
        self.url = url
        self.subscriber_lease = subscriber_lease
        self.lock_timeout = lock_timeout
        self.member_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.client: redis.Redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.scripts = Scripts(self.client)
        # Without redis-py's silent reconnects: the control thread must see every outage (see LoopSide).
        self.control_client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        self._lock = threading.Lock()
        self._view: dict[str, dict[str, AnchorState]] = {}
        self._loaded: set[str] = set()
        self._recent: dict[str, set[str]] = defaultdict(set)
        self._healthy = False
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._sides: PerLoop[LoopSide] = PerLoop(lambda loop: LoopSide(self, loop))
        self._reconnect_hooks: list[Callable[[], None]] = []
        self._seen_own: dict[str, threading.Event] = {}
        self._thread_local = threading.local()
        self.on_idle: Callable[[str, str], Any] | None = None

    # ---- per loop ------------------------------------------------------------------------------

    def side(self) -> LoopSide:
        """The running loop's side (its clients, pub/sub connection and leases)."""
        side = self._sides.get()
        self.start_control()
        return side

    async def ready(self) -> LoopSide:
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
                        self._on_control(as_text(message["data"]))
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
        run_id = as_text(self.client.info("server").get("run_id", ""))
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
        channel, anchor, state = parts[0], parts[1], parse_state(parts[2])
        with self._lock:
            if channel not in self._loaded:
                self._recent[channel].add(anchor)
            _set_active(self._view.setdefault(channel, {}), anchor, state)
        if len(parts) > 3:
            seen = self._seen_own.pop(parts[3], None)
            if seen is not None:
                seen.set()
        for side in self._sides.values():
            if not side.loop.is_closed():
                side.loop.call_soon_threadsafe(side.wake, channel, anchor)
                if state is AnchorState.COLD:
                    # Dropped (a failed write, an aborted heat): watchers of it here catch up.
                    side.loop.call_soon_threadsafe(self.reconnected, side.loop)

    def apply_local(self, channel: str, anchor: str, state: AnchorState) -> None:
        """A transition this process made: known here at once, before its notice comes back."""
        with self._lock:
            _set_active(self._view.setdefault(channel, {}), anchor, state)

    def _notify_all_loops(self) -> None:
        for side in self._sides.values():
            if not side.loop.is_closed():
                side.loop.call_soon_threadsafe(self.reconnected, side.loop)

    def view(self, channel: str) -> dict[str, AnchorState]:
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
        loaded = {as_text(k): state for k, v in raw.items() if (state := parse_state(v)) in ACTIVE}
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
        """An event set once this process's notice carrying ``token`` came back on the control channel."""
        event = threading.Event()
        self._seen_own[token] = event
        return event

    def forget_own(self, token: str) -> None:
        """No notice carrying ``token`` will come (the transition was refused)."""
        self._seen_own.pop(token, None)

    # ---- locks of the write path --------------------------------------------------------------

    @contextmanager
    def locked(
        self, channel: str, anchors: Collection[str], states: dict[str, list[Any]] | None = None
    ) -> Iterator[None]:
        """Hold the write locks of these anchors; ``states``, when given, receives each anchor's
        ``state``, ``epoch`` and ``root`` read in the same round trip as its lock."""
        token = uuid.uuid4().hex
        held: list[str] = []
        ttl_ms = int(self.lock_timeout * 1000)
        try:
            for anchor in sorted(anchors):
                key = lock_key(channel, anchor)
                deadline = time.monotonic() + 3 * self.lock_timeout
                pause = 0.002
                while True:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.set(key, token, nx=True, px=ttl_ms)
                    if states is not None:
                        pipe.hmget(state_key(channel, anchor), ["state", "epoch", "root"])
                    replies = pipe.execute()
                    if replies[0]:
                        break
                    if time.monotonic() > deadline:
                        raise BackendUnavailableError(f"lock {key} not acquired in time")
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
                held.append(key)
                if states is not None:
                    states[anchor] = list(replies[1])
            yield
        finally:
            if held:
                try:
                    self.run_scripts([(self.scripts.unlock, [key], [token]) for key in held])
                except Exception:
                    logger.warning("rxgraphql could not release %s; they expire by themselves", held)

    # ---- pipelines ------------------------------------------------------------------------------

    def defer(self, script: Any, keys: list[Any], args: list[Any]) -> None:
        """Run a script with the next ``publish`` of this thread (or ``flush_deferred``), one round trip."""
        deferred: list[tuple[Any, list[Any], list[Any]]] = self._thread_local.__dict__.setdefault(
            "deferred", []
        )
        deferred.append((script, keys, args))

    def flush_deferred(self, topic: str | None = None, data: bytes | None = None) -> None:
        """Run this thread's deferred scripts, then publish ``data`` when given, in one pipeline."""
        deferred = self._thread_local.__dict__.pop("deferred", [])
        if not deferred and topic is None:
            return
        self.run_scripts(deferred, None if topic is None or data is None else (topic, data))

    def run_scripts(
        self, calls: list[tuple[Any, list[Any], list[Any]]], publish: tuple[str, bytes] | None = None
    ) -> None:
        """Scripts (``EVALSHA``) and a publish in one pipeline; a script Redis lost is loaded and run again
        (the write path's scripts may run twice)."""
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args in calls:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        if publish is not None:
            pipe.publish(*publish)
        replies = pipe.execute(raise_on_error=False)
        for (script, keys, args), reply in zip(calls, replies, strict=False):
            if isinstance(reply, redis.exceptions.NoScriptError):
                script(keys=keys, args=args)
            elif isinstance(reply, Exception):
                raise reply
        if publish is not None and isinstance(replies[-1], Exception):
            raise replies[-1]

    def close(self) -> None:
        """Stop the control thread and close every connection: the write path's and each event loop's."""
        self._stop.set()
        self._sides.close(LoopSide.close)
        self.client.close()
        self.control_client.close()


#: The states in which an anchor is in a process's view: its changed rows are propagated.
ACTIVE = (AnchorState.HEATING, AnchorState.HOT)


def _set_active(view: dict[str, AnchorState], anchor: str, state: AnchorState) -> None:
    if state in ACTIVE:
        view[anchor] = state
    else:
        view.pop(anchor, None)


class RedisBroker(Broker):
    """Patch fan-out through Redis pub/sub: a topic per anchor, one subscription per process per topic."""

    def __init__(self, node: RedisNode) -> None:
        self.node = node

    def publish(self, topic: str, data: bytes) -> None:
        # With what the edit deferred (its committed mark): one round trip.
        self.node.flush_deferred(topic, data)

    async def subscribe(self, topic: str, callback: Callable[[bytes], None]) -> Unsubscribe:
        side = await self.node.ready()
        return await side.subscribe(topic, callback)

    def on_reconnect(self, callback: Callable[[], None]) -> None:
        self.node.add_reconnect_hook(callback)

    def reset(self) -> None:
        """Nothing process-local to forget: subscriptions belong to the feeds that hold them."""
