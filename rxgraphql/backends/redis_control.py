"""This process's view of the active anchors, kept by a thread subscribed to the control channel.

Every lifecycle script publishes its transition on ``<prefix>ctl``; the control thread applies them to a
per-channel view, so that a save learns whether anyone watches without a round trip. A channel is loaded
from Redis on its first use (merged with the notices that arrived meanwhile); while the control
connection is down every use asks Redis again. After a Redis restart (a new run id) the first process
to notice wipes the former run's state: every anchor heats again with a new epoch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import AnchorState, BackendUnavailableError
from .redis_keys import (
    CONTROL,
    PREFIX,
    RESET_MESSAGE,
    SEP,
    Scripts,
    active_key,
    as_text,
    parse_state,
    unavailable,
    wipe_state,
)

logger = logging.getLogger("rxgraphql.redis")

#: The states in which an anchor is in the view: its changed rows are propagated.
ACTIVE = (AnchorState.HEATING, AnchorState.HOT)

#: Called on the control thread with each transition any process announced.
OnNotice = Callable[[str, str, AnchorState], None]


class ControlView:
    """The active (heating or hot) anchors of every channel, as this process knows them."""

    def __init__(
        self,
        url: str,
        client: redis.Redis,
        scripts: Scripts,
        on_notice: OnNotice,
        on_reset: Callable[[], None],
    ) -> None:
        self.client = client
        self.scripts = scripts
        # Without redis-py's silent reconnects: the control thread must see every outage (see LoopSide).
        self.control_client: redis.Redis = redis.Redis.from_url(
            url, socket_connect_timeout=5, retry=Retry(NoBackoff(), 0)
        )
        self.on_notice = on_notice
        self.on_reset = on_reset
        #: Set once the control connection has checked which Redis run this is.
        self.ready = threading.Event()
        self._lock = threading.Lock()
        self._view: dict[str, dict[str, AnchorState]] = {}
        self._loaded: set[str] = set()
        self._recent: dict[str, set[str]] = defaultdict(set)
        self._healthy = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._seen_own: dict[str, threading.Event] = {}

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rxgraphql-redis-control", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.control_client.close()

    def _run(self) -> None:
        delay = 0.05
        first = True
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self.control_client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call, unused-ignore]
                pubsub.subscribe(CONTROL)
                self._claim_run()
                with self._lock:
                    self._loaded.clear()
                    self._view.clear()
                    self._healthy = True
                self.ready.set()
                if not first:
                    self.on_reset()
                first = False
                delay = 0.05
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._on_message(as_text(message["data"]))
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
        wipe_state(self.client)
        self.client.publish(CONTROL, RESET_MESSAGE)

    def _on_message(self, data: str) -> None:
        if data == RESET_MESSAGE:
            with self._lock:
                self._loaded.clear()
                self._view.clear()
            self.on_reset()
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
        self.on_notice(channel, anchor, state)

    def apply_local(self, channel: str, anchor: str, state: AnchorState) -> None:
        """A transition this process made: known here at once, before its notice comes back."""
        with self._lock:
            _set_active(self._view.setdefault(channel, {}), anchor, state)

    def view(self, channel: str) -> dict[str, AnchorState]:
        """The anchors of a channel that are heating or hot, as this process knows them."""
        self.start()
        self.ready.wait(2.0)
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


def _set_active(view: dict[str, AnchorState], anchor: str, state: AnchorState) -> None:
    if state in ACTIVE:
        view[anchor] = state
    else:
        view.pop(anchor, None)
