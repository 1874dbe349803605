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
cycles (what requests in flight at a freeze leave, what closed subscriptions and expired anchors held) do
not pile up, a freeze that finds the frozen heap grown past ``THAW_GROWTH`` times its size after the last
thaw, with some long-lived state ended since (:func:`released`) and at least ``THAW_EVERY`` freezes since
that thaw, first thaws it and collects it whole: the full collections left cost, amortised, a constant per
object frozen, as CPython's own rule for them does, and come at most once per that many freezes.

Subscriptions are long-lived state too: a worker holding a thousand of them spent 100-300 ms in each
full collection, every few seconds under load, and every socket of the worker waited. So the heap is
also frozen when the application is built (what importing Django and building the schema left) and
``SETTLE_SECONDS`` after subscriptions go live (:func:`settle_soon`), unless ``RXGRAPHQL["FREEZE_HEAP"]``
is False: a full collection then traverses only what was allocated since.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from django.db import models

#: A heat of at least this many records freezes the heap when it ends.
FREEZE_RECORDS = 2_000
#: A freeze finding the frozen heap this many times its size after the last thaw thaws and collects it
#: whole first (see the module docstring).
THAW_GROWTH = 2.0
#: ... and only once this many freezes came since the last thaw (a thaw is a full collection: 0.4 s for a
#: worker holding a 10k-record anchor).
THAW_EVERY = 16
#: Seconds from a subscription going live to the freeze that follows (one freeze for a burst of them).
SETTLE_SECONDS = 1.0


class Pause:
    """One caller's pause of the collector; ``freeze``: freeze the heap when the last pause ends."""

    freeze = False


_lock = threading.Lock()
_pauses = 0
_was_enabled = False
_freeze = False
#: The frozen heap's size (objects) after the last thaw, or the first freeze; 0 before any.
_settled_size = 0
#: When the freeze :func:`settle_soon` scheduled is due (``time.monotonic``); 0.0 when none is.
_settle_due = 0.0
#: Long-lived state ended since the last thaw (:func:`released`): the frozen heap may hold garbage.
_released = False
#: Freezes since the last thaw.
_freezes = 0


@contextmanager
def paused_gc() -> Iterator[Pause]:
    """No cyclic garbage collection while an anchor renders: its thousands of new objects would trigger
    full collections over the whole heap. Collection resumes when the last pause of the process ends,
    after freezing the heap if one of the pauses asked for it (and the collector was enabled)."""
    global _pauses, _was_enabled, _freeze
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
                    _freeze_heap()
                gc.enable()


def _freeze_heap() -> None:
    """Freeze the heap (with ``_lock`` held), thawing and collecting it whole first when the frozen heap
    has grown past ``THAW_GROWTH`` times its size after the last thaw, long-lived state ended since and
    ``THAW_EVERY`` freezes came."""
    global _settled_size, _released, _freezes
    _freezes += 1
    if (
        _released
        and _freezes >= THAW_EVERY
        and _settled_size
        and gc.get_freeze_count() > THAW_GROWTH * _settled_size
    ):
        gc.unfreeze()
        gc.collect()  # the cycles frozen alive since the last thaw, now garbage
        _settled_size, _released, _freezes = 0, False, 0
    gc.freeze()  # also forgets the young generation's count: no collection follows at once
    if not _settled_size:
        _settled_size = gc.get_freeze_count()


def released() -> None:
    """Long-lived state ended (a subscription closed, an anchor left the cache): what it held in reference
    cycles stays frozen until a thaw. A heap that only grew is never thawed: there is nothing to find."""
    global _released
    _released = True


def freeze_enabled() -> bool:
    from .conf import rx_settings

    return rx_settings().freeze_heap


def freeze_startup() -> None:
    """Collect, then freeze what starting the application left (modules, models, the schema)."""
    if not freeze_enabled():
        return
    with _lock:
        if _pauses == 0 and gc.isenabled():
            gc.collect()
            _freeze_heap()


def settle_soon() -> None:
    """Long-lived state just grew (a subscription went live, on the running loop): freeze the heap
    ``SETTLE_SECONDS`` from now, once for every subscription going live meanwhile."""
    global _settle_due
    now = time.monotonic()
    if now < _settle_due or not freeze_enabled():
        return  # already due (a loop closed before its call came is replaced once the time passed)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no loop runs here: nothing to schedule on, the next subscription will
        return
    _settle_due = now + SETTLE_SECONDS
    loop.call_later(SETTLE_SECONDS, _settle)


def _settle() -> None:
    global _settle_due, _freeze
    _settle_due = 0.0
    with _lock:
        if _pauses:
            _freeze = True  # a heat renders: the freeze waits for its end
        elif gc.isenabled():
            _freeze_heap()


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
