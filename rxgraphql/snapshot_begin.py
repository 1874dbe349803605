"""A read-only snapshot whose ``BEGIN`` travels in the query of the block's first statement (psycopg 3).

psycopg 3 sends a transaction's ``BEGIN`` as a round trip of its own before the first statement. A
save's propagation often runs one statement in all (the changed row's columns), so that round trip was a
fifth of the database time on the path from a save to its sockets. Inside :func:`snapshot` the driver
connection is left in autocommit (Django still sees its atomic block, and ends it with its own COMMIT or
ROLLBACK, which psycopg sends while a transaction is open), and ``BEGIN ISOLATION LEVEL REPEATABLE READ
READ ONLY`` is sent ahead of the first statement in the same query: the block's later statements run in
that transaction. A block that runs no statement begins no transaction. Where one query cannot carry two
statements (a cursor binding its parameters on the server, ``executemany``), the ``BEGIN`` goes first
on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


@contextmanager
def snapshot(connection: BaseDatabaseWrapper, alias: str) -> Iterator[None]:
    """A REPEATABLE READ, READ ONLY transaction for the block, begun by its first statement.

    ``connection`` is a PostgreSQL connection of psycopg 3, outside any atomic block.
    """
    import psycopg

    with transaction.atomic(using=alias):
        raw = connection.connection
        raw.autocommit = True  # psycopg begins nothing: the first statement does
        pending = True

        def begin_first(
            execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
        ) -> Any:
            nonlocal pending
            if not pending:
                return execute(sql, params, many, context)
            pending = False
            cursor = context["cursor"].cursor
            if many or not isinstance(cursor, psycopg.ClientCursor):
                cursor.execute(BEGIN)
                return execute(sql, params, many, context)
            result = execute(f"{BEGIN}; {sql}", params, many, context)
            cursor.nextset()  # to the statement's own result
            return result

        with connection.execute_wrapper(begin_first):
            yield
