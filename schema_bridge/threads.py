"""The threads that run the synchronous work of ``/graphql``: a bounded pool sized by ``SYNC_THREADS``.

The endpoint is served beside Django's ASGI handler, not through it, so its ``database_sync_to_async``
calls (token and session lookups, ``has_permission``, snapshots, writes, actions) get no per-request
thread of their own: asgiref sends them all to one process-wide thread, where one slow call delays every
client of the worker. Here that process-wide executor becomes a pool of ``SYNC_THREADS`` threads. Each
call still runs whole in one thread with its own database connection (channels closes stale ones around
every call); Django's own views keep their per-request threads.

One request (an HTTP request, a websocket operation) runs at most half of the threads at once: twenty
aliased channel queries of one document wait for each other, not the handshakes of other clients.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

from asgiref.sync import SyncToAsync

# The request the calling task serves: any object, compared by identity.
current_request: ContextVar[object | None] = ContextVar("rxgraphql_request", default=None)


class FairPool(Executor):
    """A thread pool on which one request never holds more than ``per_request`` threads."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.per_request = max(1, self.size // 2)
        self.pool = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="rxgraphql-sync")
        self.lock = threading.Lock()
        self.running: collections.Counter[object] = collections.Counter()
        self.waiting: dict[object, collections.deque[tuple[Future[Any], Callable[[], Any]]]] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        request = current_request.get()
        if request is None:
            return self.pool.submit(fn, *args, **kwargs)
        key = request
        call: Callable[[], Any] = lambda: fn(*args, **kwargs)  # noqa: E731
        with self.lock:
            if self.running[key] >= self.per_request:
                outer: Future[Any] = Future()
                self.waiting.setdefault(key, collections.deque()).append((outer, call))
                return outer
            self.running[key] += 1
        return self._start(key, call)

    def _start(self, key: object, call: Callable[[], Any], outer: Future[Any] | None = None) -> Future[Any]:
        inner = self.pool.submit(call)
        inner.add_done_callback(lambda done: self._finished(key, done, outer))
        return inner

    def _finished(self, key: object, done: Future[Any], outer: Future[Any] | None) -> None:
        if outer is not None and outer.set_running_or_notify_cancel():
            error = done.exception()
            if error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())
        with self.lock:
            queue = self.waiting.get(key)
            if queue:
                next_outer, next_call = queue.popleft()
                if not queue:
                    del self.waiting[key]
            else:
                self.running[key] -= 1
                if self.running[key] <= 0:
                    del self.running[key]
                return
        self._start(key, next_call, next_outer)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


_lock = threading.Lock()
_pool: FairPool | None = None


def install_sync_pool(size: int) -> FairPool:
    """Route asgiref's thread-sensitive calls made outside a request context to ``size`` threads."""
    global _pool
    with _lock:
        if _pool is None or _pool.size != max(1, size):
            _pool = FairPool(size)
        SyncToAsync.single_thread_executor = _pool  # type: ignore[assignment]
        return _pool
