"""The propagation's snapshot: REPEATABLE READ, begun by the block's first statement in the same query."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from board.models import Board
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connection
from psycopg.pq import TransactionStatus

from rxgraphql.capture.outbox import _connection_params
from rxgraphql.records import consistent_reads


def _status() -> TransactionStatus:
    return TransactionStatus(connection.connection.pgconn.transaction_status)


def _show(setting: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {setting}")
        return str(cursor.fetchone()[0])


@pytest.fixture
def board(transactional_db: None) -> Board:
    return Board.objects.create(title="before", owner=User.objects.create(username="owner"))


@pytest.fixture
def commands(board: Board, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The commands psycopg sends of its own (BEGIN, COMMIT, ROLLBACK) from now on."""
    sent: list[bytes] = []
    real = psycopg.Connection._exec_command

    def exec_command(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(bytes(command) if isinstance(command, bytes) else str(command).encode())
        return real(self, command, *args, **kwargs)

    connection.ensure_connection()
    monkeypatch.setattr(psycopg.Connection, "_exec_command", exec_command)
    return sent


def test_the_first_statement_begins_a_repeatable_read_read_only_transaction_without_a_round_trip_of_its_own(
    board: Board, commands: list[bytes]
) -> None:
    with consistent_reads(Board):
        assert _status() is TransactionStatus.IDLE  # nothing is sent before a statement
        assert Board.objects.get(pk=board.pk).title == "before"
        assert _status() is TransactionStatus.INTRANS
        assert _show("transaction_isolation") == "repeatable read"
        assert _show("transaction_read_only") == "on"
        assert commands == []  # psycopg sent no BEGIN of its own
    assert commands == [b"COMMIT"]
    assert _status() is TransactionStatus.IDLE
    assert connection.get_autocommit()


def test_later_statements_of_the_block_read_the_first_ones_snapshot(board: Board) -> None:
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as other:
        with consistent_reads(Board):
            assert Board.objects.get(pk=board.pk).title == "before"
            other.execute("UPDATE board_board SET title = 'after' WHERE id = %s", [board.pk])
            assert Board.objects.get(pk=board.pk).title == "before"
        assert Board.objects.get(pk=board.pk).title == "after"


def test_a_block_without_statements_begins_nothing_and_writes_work_after_it(
    board: Board, commands: list[bytes]
) -> None:
    with consistent_reads(Board):
        pass
    assert commands == []
    Board.objects.filter(pk=board.pk).update(title="written")  # autocommit again: committed at once
    with psycopg.connect(**_connection_params(DEFAULT_DB_ALIAS), autocommit=True) as other:
        found = other.execute("SELECT title FROM board_board WHERE id = %s", [board.pk]).fetchone()
    assert found == ("written",)


def test_an_error_in_the_block_rolls_the_snapshot_back_and_the_connection_stays_usable(board: Board) -> None:
    def failing() -> None:
        with consistent_reads(Board):
            Board.objects.get(pk=board.pk)
            raise RuntimeError("the propagation failed")

    with pytest.raises(RuntimeError):
        failing()
    assert _status() is TransactionStatus.IDLE
    with pytest.raises(Exception, match="read-only"), consistent_reads(Board):
        Board.objects.filter(pk=board.pk).update(title="refused")  # the first statement, read only
    assert _status() is TransactionStatus.IDLE
    assert Board.objects.get(pk=board.pk).title == "before"
