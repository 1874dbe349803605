"""Run the benchmark suite: ``.venv/bin/python -m bench`` (from the repository root).

Options: ``--quick`` (fewer runs, no 50k board), ``--repeats N``. Needs PostgreSQL on 127.0.0.1:5432
(trust auth) and ``redis-server`` on the PATH; the database named by ``RXGRAPHQL_BENCH_DATABASE_URL``
(default ``postgres://postgres@127.0.0.1:5432/rxgraphql_bench``) is created at the start and dropped at
the end. Writes ``bench/results.md``, ``bench/results.json`` and the PNG plots of ``bench/plots/``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "example")):
    if entry not in sys.path:
        sys.path.insert(0, entry)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

FANOUT_BOARD_RECORDS = 100


def main() -> None:
    """Create the database, build the boards, run the measures, write the results, drop the database."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs, boards of 1k and 10k only")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measure (default 5)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 50_000]
    fanout_runs = 2 if args.quick else 3

    import django

    from bench import capacity, data, fanout, report, settings
    from bench.server import ServerProcess
    from bench.stats import Row
    from bench.subscribers import Subscribers
    from bench.wire import b2_rows, b3_row

    started = report.now()
    clock = time.monotonic()
    data.create_database(settings.BENCH_DATABASE_URL)
    rows: list[Row] = []
    try:
        django.setup()
        data.migrate()
        boards = {n: data.build_board(n, f"b{n}") for n in sizes}
        b6_board = data.build_board(1_000, "b6")
        fanout_board = data.build_board(FANOUT_BOARD_RECORDS, "b1")
        idle_board = data.build_board(capacity.IDLE_BOARD_RECORDS, "b5")
        from django.db import connection

        connection.close()
        print(f"boards built: {[b.records for b in boards.values()]}", flush=True)

        server = ServerProcess().start()
        try:
            drf_bytes = {}
            for n, board in boards.items():
                b2, drf_bytes[n] = b2_rows(server, board, repeats if n < 50_000 else max(3, repeats - 2))
                rows += b2
                print(f"B2 {n} done", flush=True)
            for n in (1_000, 10_000):
                rows.append(b3_row(server, boards[n], drf_bytes[n], max(repeats, 5)))
                print(f"B3 {n} done", flush=True)
        finally:
            server.stop()

        fanned = fanout.FanOut()
        ladders: list[list[capacity.Step]] = []

        def at_1000(subscribers: Subscribers, trigger: fanout.Trigger) -> None:
            for _ in range(fanout_runs):
                ladders.append(capacity.ladder(subscribers, trigger))

        fanout.ours_embedded(fanout_board, fanout_runs, fanned, at_1000)
        fanout.ours_redis(fanout_board, fanout_runs, fanned)
        fanout.floor(fanout_runs, int(fanned.embedded[1000].message_bytes), fanned)
        fanout.naive(fanout_board, fanout_runs, fanned)
        rows += fanout.rows(fanned)
        print("B1 done", flush=True)
        idle = capacity.idle_sockets(idle_board)
        rows += capacity.rows(idle, ladders, 1000)
        print("B5 done", flush=True)

        from bench.writes import b6_rows

        rows += b6_rows(b6_board, repeats)
        print("B6 done", flush=True)
        from bench.client import b4_rows

        rows += b4_rows(repeats)
        print("B4 done", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        data.drop_database(settings.BENCH_DATABASE_URL)
    report.write(rows, started, time.monotonic() - clock)
    print((Path(__file__).parent / "results.md").read_text())


if __name__ == "__main__":
    main()
