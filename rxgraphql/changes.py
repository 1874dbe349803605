"""Signal capture: collects changed rows of the models channels show, per transaction, until COMMIT.

This is the capture of the ``"signals"`` mode (SQLite, the embedded development setup); with
``"triggers"`` (PostgreSQL) the database records every change itself and these receivers stand aside
(:mod:`rxgraphql.capture`).

Every save, delete and many-to-many change is recorded against the database connection it ran on. Inside
a transaction the rows are collected (once each) and handed to the flusher when the transaction commits;
a rolled-back transaction hands over nothing. Outside a transaction they are handed over right after the
statement. A flush callback is registered under every savepoint stack that is not already covered, so a
savepoint rollback can never drop the flush of the changes that did commit; a row recorded in a
rolled-back savepoint is merely re-read, which publishes nothing when it did not change.

``QuerySet.update()``, ``bulk_create()``, ``bulk_update()`` and raw SQL send no signals: in this mode call
:func:`rxgraphql.touch` after them. With triggers ``touch()`` is never needed; it then writes the rows into
the outbox, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import DEFAULT_DB_ALIAS, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import m2m_changed, post_delete, post_save

from .capture import uses_triggers
from .flusher import flusher
from .registry import registry

RowChange = tuple[type[models.Model], str]
_STATE_ATTR = "_rxgraphql_pending"


def _concrete(model: type[models.Model]) -> type[models.Model]:
    return model._meta.concrete_model or model


@dataclass
class _Pending:
    hooks: list[Any] | None = None
    #: changed rows and the fields their saves named (None: any field may have changed)
    rows: dict[RowChange, frozenset[str] | None] = field(default_factory=dict)
    callbacks: list[tuple[tuple[str, ...], Any]] = field(default_factory=list)


def _pending(connection: BaseDatabaseWrapper) -> _Pending:
    state: _Pending | None = getattr(connection, _STATE_ATTR, None)
    if state is None:
        state = _Pending()
        setattr(connection, _STATE_ATTR, state)
    if state.hooks is not connection.run_on_commit:
        # The hook list was replaced: a new transaction, or a savepoint rollback dropped hooks.
        registered = {id(hook[1]) for hook in connection.run_on_commit}
        state.callbacks = [(stack, cb) for stack, cb in state.callbacks if id(cb) in registered]
        if not state.callbacks:
            state.rows.clear()
        state.hooks = connection.run_on_commit
    return state


def _flush(connection: BaseDatabaseWrapper) -> None:
    state: _Pending | None = getattr(connection, _STATE_ATTR, None)
    if state is None:
        return
    rows, state.rows = state.rows, {}
    state.callbacks = []
    state.hooks = None
    if rows:
        flusher.submit(rows.keys(), rows)


def merge_fields(before: frozenset[str] | None, after: frozenset[str] | None) -> frozenset[str] | None:
    """The fields two changes of one row may have altered together (None: any)."""
    return None if before is None or after is None else before | after


def record(rows: Iterable[RowChange], using: str | None = None, fields: frozenset[str] | None = None) -> None:
    """Note changed rows (``fields``: what their saves changed, None for anything); they are propagated
    after the surrounding transaction commits."""
    tracked = [(model, pk) for model, pk in rows if model in registry.by_model]
    if not tracked:
        return
    connection = transaction.get_connection(using or DEFAULT_DB_ALIAS)
    if not connection.in_atomic_block:
        flusher.submit(tracked, dict.fromkeys(tracked, fields))
        return
    state = _pending(connection)
    for row in tracked:
        state.rows[row] = merge_fields(state.rows[row], fields) if row in state.rows else fields
    stack = tuple(connection.savepoint_ids)
    if any(stack[: len(covered)] == covered for covered, _ in state.callbacks):
        return
    callback = partial(_flush, connection)
    state.callbacks.append((stack, callback))
    transaction.on_commit(callback, using=connection.alias)
    state.hooks = connection.run_on_commit


def touch(target: models.Model | models.QuerySet[Any] | Iterable[models.Model]) -> None:
    """Publish rows changed without signals (``update()``, bulk operations, raw SQL)."""
    if isinstance(target, models.Model):
        _touched([(_concrete(type(target)), str(target.pk))], target._state.db)
        return
    if isinstance(target, models.QuerySet):
        model = _concrete(target.model)
        _touched([(model, str(pk)) for pk in target.values_list("pk", flat=True)], target.db)
        return
    for instance in target:
        touch(instance)


def _touched(rows: list[RowChange], using: str | None) -> None:
    if not uses_triggers():
        record(rows, using)
        return
    from .capture.outbox import enqueue

    enqueue([(model, pk) for model, pk in rows if model in registry.by_model], using or DEFAULT_DB_ALIAS)


def _on_save(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if kwargs.get("raw") or uses_triggers():
        return
    named = kwargs.get("update_fields")
    fields = None if kwargs.get("created") or named is None else frozenset(_field_names(sender, named))
    record([(_concrete(sender), str(instance.pk))], kwargs.get("using"), fields)


def _field_names(model: type[models.Model], names: Iterable[str]) -> Iterator[str]:
    """``update_fields`` may name a foreign key by its attname (``column_id``): give its field name."""
    for name in names:
        try:
            yield model._meta.get_field(name).name
        except FieldDoesNotExist:
            yield next((f.name for f in model._meta.concrete_fields if f.attname == name), name)


def _on_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if uses_triggers():
        return
    record([(_concrete(sender), str(instance.pk))], kwargs.get("using"))


def _related_pks(sender: type[models.Model], instance: models.Model, reverse: bool) -> list[Any]:
    """The primary keys linked to ``instance`` through the ``sender`` table (before a clear)."""
    for rel_field in sender._meta.get_fields():
        if not isinstance(rel_field, models.ForeignKey):
            continue
        if rel_field.remote_field.model is _concrete(type(instance)):
            others = [
                f.name
                for f in sender._meta.get_fields()
                if isinstance(f, models.ForeignKey) and f is not rel_field
            ]
            if len(others) == 1:
                return list(
                    sender._default_manager.filter(**{rel_field.name: instance.pk}).values_list(
                        others[0], flat=True
                    )
                )
    return []


def _on_m2m(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    model: type[models.Model],
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    if uses_triggers():
        return
    if action == "pre_clear":
        instance.__dict__.setdefault("_rxgraphql_cleared", {})[sender] = _related_pks(
            sender, instance, reverse
        )
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if action == "post_clear":
        pk_set = set(instance.__dict__.get("_rxgraphql_cleared", {}).pop(sender, []))
    rows: list[RowChange] = [(_concrete(type(instance)), str(instance.pk))]
    rows.extend((_concrete(model), str(pk)) for pk in pk_set or ())
    record(rows, kwargs.get("using"))


def connect_signals() -> None:
    """Listen to the models shown by some channel (and to every many-to-many table)."""
    for model in registry.by_model:
        uid = f"rxgraphql:{model._meta.label}"
        post_save.connect(_on_save, sender=model, weak=False, dispatch_uid=uid)
        post_delete.connect(_on_delete, sender=model, weak=False, dispatch_uid=uid)
    m2m_changed.connect(_on_m2m, weak=False, dispatch_uid="rxgraphql:m2m")
