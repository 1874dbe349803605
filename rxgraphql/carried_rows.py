"""Rows rebuilt from the columns a notification carried, so that an edit of plain columns reaches its
subscribers without reading the row back.

With the embedded backends the trigger's notification of an UPDATE carries the new row as JSON
(``capture.triggers``). A column whose JSON value is exactly what the database driver returns for it
(text, integers, booleans, and foreign keys to integer keys: no converter, no rounding, no time zone) can
be taken from there; a change whose re-rendered fields read only such columns is then rendered from an
instance built as the ORM builds one (``Model.from_db``), every other column deferred, so that anything
reading more than the payload holds loads it from the database as a deferred field does.

A notification is used so only when it is the newest word on its row this process has: the propagator
drops the carried columns of a row whose outbox rows a claim took after it (``Propagator``), because the
claim re-read the row at a later commit.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, router

#: Model fields whose column reads back from JSON as the driver returns it.
_EXACT = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "SmallAutoField",
        "BigIntegerField",
        "IntegerField",
        "SmallIntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "BooleanField",
        "CharField",
        "TextField",
        "SlugField",
        "EmailField",
        "URLField",
    }
)

#: Column values of a row as its notification carried them, by column name.
Values = Mapping[str, Any]


@dataclass(frozen=True)
class _Columns:
    """What rebuilding a model's rows from carried columns needs, found once per model and alias."""

    #: column name to attname, for the columns JSON carries exactly
    exact: dict[str, str]
    #: field name to attname ("pk" included), to look up what a serializer field reads
    attnames: dict[str, str]
    pk: str
    foreign_keys: tuple[str, ...]


@functools.cache
def _columns(model: type[models.Model], alias: str) -> _Columns | None:
    """None when some foreign key is not carried exactly (a parent's list check reads every foreign key
    of the row)."""
    connection = connections[alias]
    exact: dict[str, str] = {}
    for field in model._meta.concrete_fields:
        target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
        converters = [
            *connection.ops.get_db_converters(field.get_col(model._meta.db_table)),
            *field.get_db_converters(connection),
        ]
        if target.get_internal_type() in _EXACT and not converters:
            exact[str(field.column)] = str(field.attname)
        elif field.is_relation:
            return None
    pk = model._meta.pk
    assert pk is not None
    attnames = {str(field.name): str(field.attname) for field in model._meta.concrete_fields}
    attnames["pk"] = str(pk.attname)
    keys = tuple(str(field.attname) for field in model._meta.concrete_fields if field.is_relation)
    return _Columns(exact, attnames, str(pk.attname), keys)


def _exact_columns(model: type[models.Model], alias: str) -> dict[str, str] | None:
    """Column name to attname for the model's columns that JSON carries exactly; None when some foreign
    key does not."""
    columns = _columns(model, alias)
    return None if columns is None else columns.exact


def row_from_values(model: type[models.Model], values: Values, reads: Collection[str]) -> models.Model | None:
    """The row rebuilt from carried columns, when they hold every foreign key and every field or attname
    in ``reads``; None when they do not."""
    alias = router.db_for_read(model) or DEFAULT_DB_ALIAS
    columns = _columns(model, alias)
    if columns is None:
        return None
    taken = {attname: values[column] for column, attname in columns.exact.items() if column in values}
    if columns.pk not in taken or any(key not in taken for key in columns.foreign_keys):
        return None
    if any(columns.attnames.get(read, read) not in taken for read in reads):
        return None
    return model.from_db(alias, list(taken), tuple(taken.values()))
