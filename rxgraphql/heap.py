"""The cyclic garbage collector around heats, so that heating a large anchor never stops the event loop.

A collection runs in one C call holding the GIL, on whichever thread allocates when a threshold is
crossed: the event loop's thread as often as the heat's. Three things a heat of 10k records did cost
the loop whole collections of a few hundred milliseconds:

- the rows it reads are reference cycles (a prefetched child caches its parent, a parent its prefetch
  querysets and related managers): about 25 garbage objects per row, left to the collector;
- paused while the anchor renders (its thousands of new objects would otherwise trigger full collections
  during the render), the collector met all of them at once in its first young collection afterwards;
- the records kept by the cache then counted towards the next full collection, which traverses the whole
  heap, and every later one traversed them again (a save on a board of 10k records paid for them).

So a heat pauses the collector (:func:`paused_gc`), frees its rows itself one at a time once rendered
(:func:`release_rows`, between Python statements, where the loop's thread can take the GIL), and a large
heat freezes what it leaves (``gc.freeze``): the cached records and the heap they join go to the
permanent generation, which collections skip. Freezing is the trade-off CPython offers for a large
long-lived heap: an object alive at that moment that later becomes part of a garbage cycle is freed only
after ``gc.unfreeze()``; objects without cycles (records, their lists) are freed as usual. So that such
cycles (what requests in flight at a freeze leave) do not pile up, every ``THAW_EVERY``-th freeze first
thaws the heap and collects it whole, on the heat's thread: one full collection per that many large heats.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from django.db import models

#: A heat of at least this many records freezes the heap when it ends.
FREEZE_RECORDS = 2_000
#: Every this many freezes, the heap is thawed and collected whole first (see the module docstring).
THAW_EVERY = 16


class Pause:
    """One caller's pause of the collector; ``freeze``: freeze the heap when the last pause ends."""

    freeze = False


_lock = threading.Lock()
_pauses = 0
_was_enabled = False
_freeze = False
_freezes = 0


@contextmanager
def paused_gc() -> Iterator[Pause]:
    """No cyclic garbage collection while an anchor renders: its thousands of new objects would trigger
    full collections over the whole heap. Collection resumes when the last pause of the process ends,
    after freezing the heap if one of the pauses asked for it (and the collector was enabled)."""
    global _pauses, _was_enabled, _freeze, _freezes
    with _lock:
        if _pauses == 0:
            _was_enabled = gc.isenabled()
            _freeze = False
            gc.disable()
        _pauses += 1
    pause = Pause()
    try:
        yield pause
    finally:
        with _lock:
            _pauses -= 1
            _freeze = _freeze or pause.freeze
            if _pauses == 0 and _was_enabled:
                if _freeze:
                    _freezes += 1
                    if _freezes % THAW_EVERY == 0:
                        gc.unfreeze()
                        gc.collect()  # the cycles frozen alive since the last thaw, now garbage
                    gc.freeze()  # also forgets the young generation's count: no collection follows at once
                gc.enable()


def release_rows(rows: MutableMapping[Any, models.Model]) -> None:
    """Empty ``rows``, freeing each row as it goes: its caches of related rows, prefetch querysets and
    related managers are dropped, so reference counting frees it and them without the collector, one row
    per step (dropping the mapping whole would free every row in one C call holding the GIL)."""
    while rows:
        _key, row = rows.popitem()
        unlink(row)
        del row


def unlink(row: models.Model) -> None:
    """Break the reference cycles a read row takes part in (it stays usable: its caches refill on use)."""
    row.__dict__.pop("_prefetched_objects_cache", None)
    state = row._state
    state.fields_cache = {}
    state.__dict__.pop("related_managers_cache", None)
