"""The example's SQLite settings hold up under concurrent writers (no "database is locked").

Each writer reads then writes in one transaction, as a view or an action does: with SQLite's default
deferred transactions two such writers deadlock and one fails at once; with ``BEGIN IMMEDIATE`` and a busy
timeout they queue. Runs in a subprocess, since the suite's own database is PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WRITERS = """
import sys, threading
sys.path.insert(0, {example!r})
import django
from django.conf import settings
from example_project.settings import sqlite_database

settings.configure(DATABASES={{"default": sqlite_database({database!r})}}, INSTALLED_APPS=[])
django.setup()
from django.db import connection, connections, transaction

with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    print("journal", cursor.fetchone()[0])
    cursor.execute("CREATE TABLE counter (n INTEGER)")
failures = []

def write(rounds):
    try:
        for _ in range(rounds):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) FROM counter")
                seen = cursor.fetchone()[0]
                cursor.execute("INSERT INTO counter (n) VALUES (%s)", [seen])
    except Exception as error:
        failures.append(repr(error))
    finally:
        connections.close_all()

threads = [threading.Thread(target=write, args=(25,)) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT COUNT(*), COUNT(DISTINCT n) FROM counter")
    print("rows", *cursor.fetchone())
print("failures", len(failures), failures[:3])
"""


def test_concurrent_read_then_write_transactions_all_commit(tmp_path: Path) -> None:
    script = WRITERS.format(example=str(ROOT / "example"), database=str(tmp_path / "writers.sqlite3"))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "journal wal" in lines
    assert "failures 0 []" in lines, result.stdout
    # Every transaction committed, each after the previous one (serialized: every count is distinct).
    assert "rows 200 200" in lines
