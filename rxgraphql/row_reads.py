"""Rows of a model by primary key, read through a statement compiled once per model and database.

Every save a channel shows is read back by primary key, and compiling that queryset costs the write path
more CPU than its round trip (the ORM builds, resolves and compiles the same ``SELECT … WHERE pk = ANY(%s)``
each time). Here it is compiled once per model and alias, and each read binds its keys as the one array
parameter; the rows come back as the ORM builds them (each field's database converters, then
``Model.from_db``), so signals, deferred loading and ``refresh_from_db`` see ordinary instances.

Only a default manager that adds nothing to the query is compiled once: a manager that overrides
``get_queryset`` (or a queryset class that filters, annotates or joins in its constructor) may build
another query on every call, so its rows are read through the ORM every time. Other databases than
PostgreSQL read through the ORM as well (``IN (…)`` has one shape per number of keys there).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, router
from django.db.models.manager import BaseManager
from django.db.models.query import ModelIterable, QuerySet


@dataclass(frozen=True)
class _Statement:
    """A compiled read of one model by primary key: the SQL, its parameters with the key array at
    ``slot``, and the selected columns (their expressions give the converters, their attnames the
    instance's fields)."""

    sql: str
    params: tuple[Any, ...]
    slot: int
    columns: tuple[Any, ...]
    attnames: tuple[str, ...]


def rows_by_pk(model: type[models.Model], pks: Sequence[Any]) -> list[models.Model]:
    """The rows of ``model`` whose primary keys are in ``pks``, in no particular order: what
    ``in_values(model._default_manager.order_by(), "pk", pks)`` returns."""
    from .records import in_values

    alias = router.db_for_read(model) or DEFAULT_DB_ALIAS
    statement = _statement(model, alias)
    if statement is None:
        return list(in_values(model._default_manager.order_by(), "pk", list(pks)))
    connection = connections[alias]
    key = model._meta.pk
    assert key is not None
    target = getattr(key, "target_field", key)  # a primary key that is a one-to-one link
    params = list(statement.params)
    params[statement.slot] = [target.to_python(pk) for pk in pks]
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        found = cursor.fetchall()
    converters = _converters(statement, connection)
    rows: list[models.Model] = []
    for values in found:
        if converters:
            values = list(values)
            for position, functions, expression in converters:
                value = values[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                values[position] = value
        rows.append(model.from_db(alias, list(statement.attnames), tuple(values)))
    return rows


#: Per database connection (one per thread and alias), the converters of each compiled statement.
_CONVERTERS: weakref.WeakKeyDictionary[Any, dict[str, list[tuple[int, list[Any], Any]]]] = (
    weakref.WeakKeyDictionary()
)


def _converters(statement: _Statement, connection: Any) -> list[tuple[int, list[Any], Any]]:
    """The database converters of each selected column, as the ORM's compiler applies them (found once
    per statement and connection: they are the connection's own functions)."""
    known = _CONVERTERS.get(connection)
    if known is None:
        known = _CONVERTERS[connection] = {}
    found = known.get(statement.sql)
    if found is None:
        found = known[statement.sql] = []
        for position, expression in enumerate(statement.columns):
            functions = [
                *connection.ops.get_db_converters(expression),
                *expression.get_db_converters(connection),
            ]
            if functions:
                found.append((position, functions, expression))
    return found


@functools.cache
def _statement(model: type[models.Model], alias: str) -> _Statement | None:
    """The compiled read of ``model`` on ``alias``; None when its rows must go through the ORM each time."""
    from .records import in_values

    connection = connections[alias]
    manager = model._default_manager
    if (
        connection.vendor != "postgresql"
        or type(manager).get_queryset is not BaseManager.get_queryset
        or getattr(manager, "_queryset_class", QuerySet).__init__ is not QuerySet.__init__
    ):
        return None
    base = manager.order_by()
    query = base.query
    if (
        base._iterable_class is not ModelIterable
        or query.where
        or query.select_related
        or query.annotations
        or query.extra
        or query.deferred_loading != (frozenset(), True)
        or query.distinct
    ):
        return None
    keys: list[Any] = []
    compiler = in_values(base, "pk", keys).query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    slots = [index for index, param in enumerate(params) if param == keys]  # (``in_values`` copies it)
    if len(slots) != 1 or compiler.annotation_col_map or compiler.klass_info is None:
        return None
    columns = tuple(expression for expression, _, _ in compiler.select)
    attnames = tuple(str(expression.target.attname) for expression in columns)
    if list(attnames) != [field.attname for field in model._meta.concrete_fields]:
        return None
    return _Statement(sql, tuple(params), slots[0], columns, attnames)
