"""The threads that run the synchronous work of ``/graphql``: a bounded pool sized by ``SYNC_THREADS``.

The endpoint is served beside Django's ASGI handler, not through it, so its ``database_sync_to_async``
calls (token and session lookups, ``has_permission``, snapshots, writes, actions) get no per-request
thread of their own: asgiref sends them all to one process-wide thread, where one slow call delays every
client of the worker. Here that process-wide executor becomes a pool of ``SYNC_THREADS`` threads. Each
call still runs whole in one thread with its own database connection (channels closes stale ones around
every call); Django's own views keep their per-request threads.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import SyncToAsync

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def install_sync_pool(size: int) -> ThreadPoolExecutor:
    """Route asgiref's thread-sensitive calls made outside a request context to ``size`` threads."""
    global _pool
    with _lock:
        if _pool is None or _pool._max_workers != size:
            _pool = ThreadPoolExecutor(max_workers=max(1, size), thread_name_prefix="rxgraphql-sync")
        SyncToAsync.single_thread_executor = _pool
        return _pool
