"""How committed changes of the layer tables reach the write path: database triggers or Django signals.

Two capture modes, chosen by ``RXGRAPHQL["CAPTURE"]``:

``"triggers"`` (PostgreSQL; the default there)
    Every insert, update and delete of a layer table, and of the many-to-many tables between them, is
    written by a trigger into the outbox table ``rxgraphql_change`` in the same transaction, so a change is
    durable exactly when the write is, whoever made it (``QuerySet.update()``, bulk operations, raw SQL,
    ``psql``, another service). ``NOTIFY`` wakes the propagator thread of every ASGI worker; each outbox row
    is claimed by one of them (``FOR UPDATE SKIP LOCKED``) and deleted in the claim's transaction once
    propagated, so a propagator that dies mid-batch leaves its rows to the next one (:mod:`.outbox`). The
    triggers follow the channels: ``migrate`` brings them in step (:mod:`.triggers`).

``"signals"`` (every other database; also selectable on PostgreSQL)
    ``post_save``, ``post_delete`` and ``m2m_changed`` collect the rows per transaction and the flusher
    thread of the committing process propagates them after COMMIT (:mod:`rxgraphql.changes`).

``"auto"`` (the default) picks ``"triggers"`` when the default database is PostgreSQL with psycopg 3.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Literal

from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections

CaptureMode = Literal["triggers", "signals"]
MODES = ("auto", "triggers", "signals")


@functools.cache
def capture_mode() -> CaptureMode:
    """The capture mode in force (the setting resolved against the database); cached until settings change."""
    from django.core.exceptions import ImproperlyConfigured

    from ..conf import rx_settings

    wanted = rx_settings().capture
    if wanted not in MODES:
        raise ImproperlyConfigured(f"RXGRAPHQL['CAPTURE'] must be one of {', '.join(MODES)}, not {wanted!r}")
    postgres = connections[DEFAULT_DB_ALIAS].vendor == "postgresql" and _has_psycopg3()
    if wanted == "triggers" and not postgres:
        raise ImproperlyConfigured("RXGRAPHQL['CAPTURE'] = 'triggers' needs PostgreSQL with psycopg 3")
    if wanted == "auto":
        return "triggers" if postgres else "signals"
    return "triggers" if wanted == "triggers" else "signals"


def uses_triggers() -> bool:
    return capture_mode() == "triggers"


def _has_psycopg3() -> bool:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


def _forget_mode(setting: str, **kwargs: Any) -> None:
    if setting in ("RXGRAPHQL", "DATABASES"):
        capture_mode.cache_clear()


setting_changed.connect(_forget_mode, dispatch_uid="rxgraphql:capture-mode")


def start_capture() -> None:
    """Start this process's outbox propagator when changes are captured by triggers (idempotent)."""
    if uses_triggers():
        from .outbox import propagator

        propagator.start()


def watching_changed() -> None:
    """This process starts to show an anchor: with triggers, its propagator listens to the anchor's
    tables within a tick (and claims what they changed before it listened)."""
    if uses_triggers():
        from .outbox import propagator

        propagator.watch_changed()


def stop_capture(timeout: float = 5.0) -> None:
    """Stop this process's outbox propagator, if it runs (tests, shutdown)."""
    from .outbox import propagator

    propagator.stop(timeout)


def wait_propagated(timeout: float = 10.0) -> bool:
    """Block until every change committed before the call has been propagated; False on timeout.

    With triggers, that is when the outbox holds none of the rows present at the call (a propagator of
    some process must be running); with signals, when this process's flusher is idle.
    """
    from ..flusher import flusher

    deadline = time.monotonic() + timeout
    if uses_triggers():
        from .outbox import outbox_drained_up_to, outbox_high_water, request_drain

        mark = outbox_high_water()
        if mark is not None:
            request_drain()  # changes nobody watches are claimed now, not at the next regular look
        pause = 0.0002
        while mark is not None and not outbox_drained_up_to(mark):
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)  # polling the database: the drain of another process sends no event here
            pause = min(0.005, pause * 2)
    return flusher.wait_idle(max(0.0, deadline - time.monotonic()))
