"""The propagator of trigger capture: claims outbox rows, propagates them, deletes them in one transaction.

One thread per process (started with the ASGI application). It listens, with a connection of its own,
on ``rxgraphql_change`` (drain requests, ``touch()``) and on the channel of every table some channel
watches in this process's view (``propagate.needed``: a hot anchor shows the table, or it is the anchor
table of a channel with ``Meta.auto_update``), looked at again when this process starts to show an anchor
(``watch_changed``) and at every regular look; on every
notification (and every few seconds, for one missed while it was reconnecting) it drains the outbox in
batches. With the embedded backends, a row whose notification carried it whole (the first rows of each
transaction, see ``triggers``) is propagated at once and deleted afterwards (``propagate_notified``): this
process alone shows its anchors, so no claim is needed to keep another from propagating it too. Those
deletions are put off by up to ``forget_delay`` and made in one statement, before any claim and
at the latest once the oldest waited that long, so that they stay off the path of the next save.
Otherwise a batch is claimed with ``DELETE … FOR UPDATE SKIP LOCKED
RETURNING`` on a second connection whose transaction stays open while the rows are propagated, and is
committed only afterwards: several processes share the outbox without taking the same row, and a process
that dies mid-batch rolls its claim back, leaving the rows to the next propagator. Propagation re-reads
the committed rows, so a batch propagated twice converges all the same (at least once, idempotent).

A save nobody watches wakes no propagator: its rows wait for the next regular look and are then claimed
and discarded in bulk, so it costs its trigger and little more. When a table starts to be watched, the
propagator listens to it and then drains, so a change committed before it listened is not put off.
``wait_propagated()`` asks for a drain at once (``request_drain``).
When a production backend or the database is unreachable the claim is rolled back and retried, as the
flusher retries. The thread keeps one database connection for its propagations and hands it back to
Django (its pool) at every regular look and after any error.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson
from django.db import (
    DEFAULT_DB_ALIAS,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connections,
    models,
)

from .. import metrics
from ..carried_rows import Values
from .triggers import CHANNEL, OUTBOX, table_channel

logger = logging.getLogger("rxgraphql.capture")

RowChange = tuple[type[models.Model], str]
#: id, table, primary key, the columns an UPDATE changed (None for other operations), when it was written
ClaimedRow = tuple[int, str, str, list[str] | None, float]

#: The payload of a notification that asks for a drain now (table names never contain it).
DRAIN = "*"

#: Deletes outbox rows propagated from their notifications (a row another claim holds is its to delete).
FORGET = (
    f"DELETE FROM {OUTBOX} WHERE id IN (SELECT id FROM {OUTBOX} WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED)"
)

CLAIM = (
    f"DELETE FROM {OUTBOX} WHERE id IN "
    f"(SELECT id FROM {OUTBOX} ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
    "RETURNING id, tbl, pk, fields, extract(epoch FROM created_at)"
)


def _connection_params(using: str) -> dict[str, Any]:
    params = dict(connections[using].get_connection_params())
    for key in ("context", "cursor_factory", "prepare_threshold"):
        params.pop(key, None)
    return params


def outbox_high_water(using: str = DEFAULT_DB_ALIAS) -> int | None:
    """The newest outbox row's id, None when the outbox is empty."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT max(id) FROM {OUTBOX}")
        row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def outbox_drained_up_to(mark: int, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether every row up to ``mark`` is propagated (a row being propagated is still visible)."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {OUTBOX} WHERE id <= %s)", [mark])
        row = cursor.fetchone()
    return bool(row and row[0])


def enqueue(rows: list[RowChange], using: str = DEFAULT_DB_ALIAS) -> None:
    """Write changed rows into the outbox in the current transaction (``touch()`` with triggers)."""
    if not rows:
        return
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {OUTBOX} (tbl, pk, op) "
            "SELECT t, p, 'T' FROM unnest(%s::text[], %s::text[]) AS r(t, p)",
            [[model._meta.db_table for model, _ in rows], [pk for _, pk in rows]],
        )
        cursor.execute("SELECT pg_notify(%s, '')", [CHANNEL])


def request_drain(using: str = DEFAULT_DB_ALIAS) -> None:
    """Ask every propagator to claim the outbox now, changes nobody watches included."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, DRAIN])


def _notified(listener: Any, timeout: float) -> set[str]:
    """The payloads of the notifications that came within ``timeout`` (all those already queued)."""
    payloads = {note.payload for note in listener.notifies(timeout=timeout, stop_after=1)}
    if payloads:
        payloads.update(note.payload for note in listener.notifies(timeout=0))
    return payloads


def split_payloads(payloads: set[str]) -> tuple[list[ClaimedRow], dict[int, Values], set[str]]:
    """The outbox rows that notifications carried whole (see ``triggers``), the new columns of those that
    carried them too (by outbox row id), and the other payloads (table names, drain requests)."""
    rows: list[ClaimedRow] = []
    carried: dict[int, Values] = {}
    others: set[str] = set()
    for payload in payloads:
        if not payload.startswith("["):
            others.add(payload)
            continue
        try:
            row_id, table, pk, fields, at, *rest = orjson.loads(payload)
            rows.append((int(row_id), str(table), str(pk), fields, float(at)))
        except (orjson.JSONDecodeError, TypeError, ValueError):
            others.add(DRAIN)  # not ours to read: the outbox has it all the same
            continue
        if rest and isinstance(rest[0], dict):
            carried[int(row_id)] = rest[0]
    rows.sort()
    return rows, carried, others


def _worth_claiming(payloads: set[str]) -> bool:
    """Whether the notified changes may matter now: some channel watches one of their tables (the view of
    this process, as ``propagate.needed`` decides), or the payload names no table (a drain, ``touch()``).

    Decided after the COMMIT that sent the notification, so an anchor that starts heating later reads the
    rows anyway: a change put off is only a change nobody watched when it committed.
    """
    from ..backends import get_cache
    from ..propagate import needed

    try:
        cache = get_cache()
    except Exception:  # the drain reports it and retries
        return True
    tables = models_by_table()
    changed: list[RowChange] = []
    for payload in payloads:
        names = payload.split(",") if payload and payload != DRAIN else []
        if not names or any(name not in tables for name in names):
            return True
        changed.extend((tables[name], "") for name in names)
    return bool(needed(changed, cache))


def watched_tables() -> set[str]:
    """The captured tables some channel watches now, in this process's view (``propagate.needed``); the
    backends are not built for it (a process that has used none watches only what ``auto_update``
    announces)."""
    from ..backends import built_cache
    from ..propagate import needed

    tables = models_by_table()
    try:
        watched = {model for model, _ in needed([(model, "") for model in tables.values()], built_cache())}
    except Exception:  # unavailable: listen to every table until it is back
        return set(tables)
    return {table for table, model in tables.items() if model in watched}


def follow(listener: Any, listening: set[str]) -> bool:
    """Listen to the channels of the tables watched now and to no other table (``listening`` is kept up
    to date); returns whether a table started to be listened to."""
    wanted = {table_channel(table) for table in watched_tables()}
    added, dropped = wanted - listening, listening - wanted
    for channel in sorted(added):
        listener.execute(f'LISTEN "{channel}"')
    for channel in sorted(dropped):
        listener.execute(f'UNLISTEN "{channel}"')
    listening.clear()
    listening.update(wanted)
    return bool(added)


def models_by_table() -> dict[str, type[models.Model]]:
    from .triggers import captured_models

    return {model._meta.db_table: model for model in captured_models()}


class Propagator:
    #: Outbox rows claimed (and propagated) per transaction.
    batch_size = 1000
    #: Seconds between two looks at the outbox when no notification asked for one: changes nobody
    #: watched wait that long at most, and a notification missed while reconnecting is caught up.
    idle_poll = 5.0
    #: Seconds between two looks at the stop flag (and at ``watch_changed``) while waiting.
    tick = 0.1
    #: Seconds the deletion of rows propagated from their notifications may be put off, so that a
    #: stream of saves costs one DELETE per batch of them, made while no save waits for the propagator.
    forget_delay = 0.02

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        self.using = using
        self._thread: threading.Thread | None = None
        #: a thread told to stop that had not ended when ``stop`` gave up waiting
        self._stopping: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._rewatch = threading.Event()
        #: The newest outbox row id a claim of this process took (``carried_rows``).
        self._claimed_up_to = 0
        #: Outbox rows propagated from their notifications and not deleted yet (``forget``), and since when.
        self._forgettable: list[int] = []
        self._forgettable_since = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def watch_changed(self) -> None:
        """This process started to show an anchor: the tables to listen to are looked at again (at once,
        not at the next regular look)."""
        self._rewatch.set()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            if self._stopping is not None:
                # A thread whose stop timed out still runs until its batch ends: clearing the flag now
                # would let it run on beside the new one.
                self._stopping.join()
                self._stopping = None
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rxgraphql-capture", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                with self._lock:
                    self._stopping = thread

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._serve()
                failures = 0
            except Exception as error:
                if self._stop.is_set():
                    break
                failures += 1
                delay = min(5.0, 0.05 * 2**failures)
                logger.warning("rxgraphql outbox propagator: %s; retrying in %.1fs", error, delay)
                self._stop.wait(delay)
            finally:
                with contextlib.suppress(Exception):  # the thread must outlive any database error
                    close_old_connections()

    def _serve(self) -> None:
        import psycopg

        params = _connection_params(self.using)
        with (
            psycopg.connect(**params, autocommit=True) as listener,
            psycopg.connect(**params, autocommit=True) as claimer,
        ):
            # Deleting propagated rows never waits for the disk: a crash that loses a deletion only
            # propagates its rows again, which converges all the same.
            claimer.execute("SET synchronous_commit TO off")
            listener.execute(f"LISTEN {CHANNEL}")
            listening: set[str] = set()
            follow(listener, listening)
            self.drain(claimer)
            last_look = time.monotonic()
            try:
                while not self._stop.is_set():
                    notified, carried, woken = split_payloads(_notified(listener, self._wait()))
                    if notified and not self.propagate_notified(claimer, notified, carried):
                        woken.update(row[1] for row in notified)
                    now = time.monotonic()
                    looking = now - last_look >= self.idle_poll
                    grown = False
                    # (A notification needs no new look: it comes from a table already listened to.)
                    if self._rewatch.is_set() or looking:
                        self._rewatch.clear()
                        # Listening from now on, a newly watched table's earlier changes are claimed now.
                        grown = follow(listener, listening)
                    # A change nobody watches waits for the next regular look (claimed then in bulk).
                    claiming = grown or (woken and _worth_claiming(woken)) or looking
                    if self._forgettable and (
                        claiming  # a claim must not take rows already propagated
                        or len(self._forgettable) >= self.batch_size
                        or now - self._forgettable_since >= self.forget_delay
                    ):
                        self.forget(claimer)
                    if claiming:
                        self.drain(claimer)
                        last_look = time.monotonic()
                    if looking:
                        close_old_connections()  # the propagations' connection goes back to the pool
            finally:
                with contextlib.suppress(Exception):  # left undeleted, they are only propagated again
                    self.forget(claimer)

    def propagate_notified(
        self, claimer: Any, rows: list[ClaimedRow], carried: Mapping[int, Values] | None = None
    ) -> bool:
        """Propagate outbox rows that their notifications carried, then delete them; False when they are
        left to a claim: a shared cache (every process is notified, one process must propagate each row)
        or a backend that is down (the claim retries).

        With the embedded backends this process alone shows its anchors, so the claim's round trip is
        spared: the rows are propagated first, re-read as a claimed row is (or rendered from the new
        columns their notifications carried, ``carried``, by outbox row id: see ``carried_rows``), and
        deleted afterwards. A process that dies in between leaves them in the outbox, to be propagated
        again.
        """
        from ..backends import get_cache

        try:
            if get_cache().shared:
                return False
        except Exception:  # the claim reports it and retries
            return False
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            try:
                self._hand_over(batch, carried)
            except _Retry:
                return False
            if not self._forgettable:
                self._forgettable_since = time.monotonic()
            self._forgettable.extend(row[0] for row in batch)
        return True

    def _wait(self) -> float:
        """How long to wait for a notification: a tick, or until the deletions put off are due."""
        if not self._forgettable:
            return self.tick
        due = self._forgettable_since + self.forget_delay - time.monotonic()
        return max(0.0, min(self.tick, due))

    def forget(self, claimer: Any) -> None:
        """Delete the outbox rows propagated from their notifications (one statement for all of them)."""
        if self._forgettable:
            claimer.execute(FORGET, [self._forgettable])
            self._forgettable = []

    def drain(self, claimer: Any) -> int:
        """Propagate batches until the outbox holds nothing this process can claim; returns rows handled."""
        handled = 0
        failures = 0
        while not self._stop.is_set():
            try:
                claimed = self._propagate_one_batch(claimer)
            except _Retry as retry:
                failures += 1
                delay = min(2.0, 0.05 * 2**failures)
                logger.warning("rxgraphql backend unavailable (%s); outbox retried in %.2fs", retry, delay)
                self._stop.wait(delay)
                continue
            failures = 0
            if claimed is None:
                return handled
            handled += claimed
            if claimed < self.batch_size:
                return handled
        return handled

    def _propagate_one_batch(self, claimer: Any) -> int | None:
        with _claimed(claimer, self.batch_size) as rows:
            if not rows:
                return None
            # This re-reads their rows: a notification of an older change of one of them, still to come,
            # must be re-read too, not rendered from the older columns it carries.
            self._claimed_up_to = max(self._claimed_up_to, rows[-1][0])
            self._hand_over(rows)
            return len(rows)

    @metrics.traced("rxgraphql.capture")
    def _hand_over(self, rows: list[ClaimedRow], carried: Mapping[int, Values] | None = None) -> None:
        """Propagate claimed rows; raises ``_Retry`` (the claim is rolled back) when a backend is down."""
        from ..backends import get_broker, get_cache, is_unavailable
        from ..propagate import needed, propagate

        tables = models_by_table()
        changes, written_at = _decode(rows, tables)
        values = self._newest_values(rows, carried, tables) if carried else None
        retried = False
        try:
            cache = get_cache()
            wanted = needed(list(changes), cache)
            if wanted:
                for row, written in written_at.items():
                    metrics.rows_committed([row], written)
                propagate(wanted, cache, get_broker(), {row: changes[row] for row in wanted}, values)
        except Exception as error:
            # The thread keeps its database connection from one batch to the next (``_serve`` hands it
            # back at every regular look); one that an error left unusable is not used again.
            with contextlib.suppress(Exception):
                close_old_connections()
            if is_unavailable(error) or isinstance(error, (OperationalError, InterfaceError)):
                retried = True
                raise _Retry(error) from error
            logger.exception("rxgraphql could not propagate %d changed rows", len(changes))
        finally:
            metrics.rows_propagated(changes, retried=retried)

    def _newest_values(
        self,
        rows: list[ClaimedRow],
        carried: Mapping[int, Values],
        tables: Mapping[str, type[models.Model]] | None = None,
    ) -> dict[RowChange, Values]:
        """Per changed row, the columns its newest outbox row carried, when every one of its rows in the
        batch carried them and none is older than a claim this process made (``carried_rows``)."""
        tables = models_by_table() if tables is None else tables
        newest: dict[RowChange, Values | None] = {}
        for row_id, table, pk, _columns, _at in rows:  # in id order: the newest last
            model = tables.get(table)
            if model is None:
                continue
            values = carried.get(row_id) if row_id > self._claimed_up_to else None
            key = (model, pk)
            newest[key] = None if key in newest and newest[key] is None else values
        return {key: values for key, values in newest.items() if values is not None}


def changed_fields(rows: list[ClaimedRow]) -> dict[RowChange, frozenset[str] | None]:
    """Per changed row, the model fields its updates changed: None when it was inserted, deleted, linked
    or touched (anything of it may have changed)."""
    return _decode(rows)[0]


def _decode(
    rows: list[ClaimedRow], tables: Mapping[str, type[models.Model]] | None = None
) -> tuple[dict[RowChange, frozenset[str] | None], dict[RowChange, float]]:
    """One pass over claimed rows: per changed row, its changed fields (see ``changed_fields``) and when its
    oldest claimed change was written (the database's clock)."""
    tables = models_by_table() if tables is None else tables
    changes: dict[RowChange, frozenset[str] | None] = {}
    written: dict[RowChange, float] = {}
    for _id, table, pk, columns, at in rows:
        model = tables.get(table)
        if model is None:
            continue
        key = (model, pk)
        names = None if columns is None else frozenset(_field_names(model, tuple(columns)))
        if key in changes:
            before = changes[key]
            changes[key] = None if before is None or names is None else before | names
            written[key] = min(at, written[key])
        else:
            changes[key] = names
            written[key] = at
    return changes, written


@functools.cache
def _columns_to_fields(model: type[models.Model]) -> dict[str, str]:
    return {str(f.column): f.name for f in model._meta.concrete_fields}


def _field_names(model: type[models.Model], columns: tuple[str, ...]) -> list[str]:
    by_column = _columns_to_fields(model)
    return [by_column.get(column, column) for column in columns]


class _Retry(Exception):
    """A backend is unreachable: roll the claim back so that the rows are propagated later."""


@contextmanager
def _claimed(claimer: Any, limit: int) -> Iterator[list[ClaimedRow]]:
    """Claimed outbox rows, deleted when the block ends and restored when it raises.

    ``claimer`` is in autocommit mode and the transaction is opened here, ``BEGIN`` and the claim sent
    as one query (the limit is an int, written into it): one round trip before the rows are in hand.
    The deletion commits without waiting for its WAL record to reach the disk (``synchronous_commit``
    off for this transaction alone): a crash that loses it only propagates the rows again, which
    converges all the same, and the propagator is not held a disk flush per batch.
    """
    try:
        cursor = claimer.execute(
            f"BEGIN; SET LOCAL synchronous_commit TO off; {CLAIM.replace('%s', str(int(limit)))}"
        )
        cursor.nextset()
        cursor.nextset()
        rows = [(int(row[0]), str(row[1]), str(row[2]), row[3], float(row[4])) for row in cursor.fetchall()]
        yield rows
    except BaseException:
        with contextlib.suppress(Exception):  # a connection that died has rolled back on the server
            claimer.execute("ROLLBACK")
        raise
    claimer.execute("COMMIT")


propagator = Propagator()
