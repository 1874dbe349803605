"""The write path's worker thread: propagates committed changes off the thread that committed them.

Batches queued while it works are merged, so a burst of saves to one row costs one propagation. When a
production backend is unreachable (Redis or MongoDB restarting), the batch is kept and retried with backoff:
dropping it would leave hot anchors behind the database once the servers are back.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterable, Mapping

from django.db import close_old_connections, models

from . import metrics
from .backends import get_cache
from .propagate import needed

logger = logging.getLogger("rxgraphql.flusher")

RowChange = tuple[type[models.Model], str]
Fields = Mapping[RowChange, frozenset[str] | None]


class Flusher:
    #: How many times in a row a batch is retried while a backend is unreachable (about 10 minutes).
    max_retries = 300

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[list[RowChange], Fields] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._busy = 0

    @metrics.traced("rxgraphql.capture")
    def submit(self, rows: Iterable[RowChange], fields: Fields | None = None) -> None:
        """Queue committed changes (``fields``: per row, what its saves changed; absent = anything); a save
        nobody watches costs no more than this check."""
        batch = list(rows)
        # When the view is unavailable (Redis restarting) the worker decides, and retries.
        with contextlib.suppress(Exception):
            batch = needed(batch, get_cache())
        if not batch:
            return
        with self._idle:
            self._busy += 1
        self._ensure_thread()
        metrics.rows_committed(batch)
        self._queue.put((batch, {row: (fields or {}).get(row) for row in batch}))

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rxgraphql-flusher", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        from .backends import get_broker, get_cache, is_unavailable
        from .changes import merge_fields
        from .propagate import propagate

        failures = 0
        while True:
            first = self._queue.get()
            if first is None:
                return
            batches = [first]
            while True:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batches.append(more)
            fields: dict[RowChange, frozenset[str] | None] = {}
            for batch, named in batches:
                for row in batch:
                    change = named.get(row)
                    fields[row] = merge_fields(fields[row], change) if row in fields else change
            rows = list(fields)
            retry = False
            try:
                close_old_connections()
                propagate(rows, get_cache(), get_broker(), fields)
                failures = 0
            except Exception as error:
                if is_unavailable(error) and failures < self.max_retries:
                    failures += 1
                    retry = True
                    logger.warning(
                        "rxgraphql backend unavailable (%s); retrying %d changed rows", error, len(rows)
                    )
                else:
                    failures = 0
                    logger.exception("rxgraphql could not propagate %d changed rows", len(rows))
            finally:
                if retry:
                    time.sleep(min(2.0, 0.05 * 2**failures))
                    with self._idle:
                        self._busy += 1
                    self._queue.put((rows, fields))
                metrics.rows_propagated(rows, retried=retry)
                close_old_connections()
                with self._idle:
                    self._busy -= len(batches)
                    self._idle.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted change is propagated (management commands, tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


flusher = Flusher()
