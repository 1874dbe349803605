"""Run the benchmark suite: ``.venv/bin/python -m bench`` (from the repository root).

Options: ``--quick`` (fewer runs, no 50k board), ``--repeats N``. Needs PostgreSQL on 127.0.0.1:5432
(trust auth); the database named by ``RXGRAPHQL_BENCH_DATABASE_URL`` (default
``postgres://postgres@127.0.0.1:5432/rxgraphql_bench``) is created at the start and dropped at the end.
Writes ``bench/results.md`` and ``bench/results.json``. Measures that are not implemented yet appear
in the table as "not measured".
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


def _not_measured() -> list[object]:
    from bench.stats import Row

    return [
        Row("B1", "fan-out p99 at N=1000, embedded", "s", comparison_name="floor (bare websockets broadcast)",
            target="<= 3x floor and < 100 ms", note="not implemented yet"),
        Row("B1", "fan-out p50/p99 at N=100, embedded", "s",
            comparison_name="naive (strawberry + group_send)",
            target=">= 10x faster than naive", note="not implemented yet"),
        Row("B1", "fan-out at N=1..1000, two workers with Redis", "s", comparison_name="floor",
            note="not implemented yet"),
        Row("B5", "idle subscribed sockets per worker, memory per socket", "B",
            target=">= 5000 sockets at <= 64 KiB", note="not implemented yet"),
        Row("B5", "patches/s to 1000 subscribers before p99 > 100 ms", "1/s", note="not implemented yet"),
    ]


def main() -> None:
    """Create the database, build the boards, run the measures, write the results, drop the database."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs, boards of 1k and 10k only")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measure (default 5)")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 50_000]

    import django

    from bench import data, report, settings
    from bench.server import ServerProcess
    from bench.stats import Row

    started = report.now()
    clock = time.monotonic()
    data.create_database(settings.BENCH_DATABASE_URL)
    rows: list[Row] = []
    try:
        django.setup()
        data.migrate()
        boards = {n: data.build_board(n, f"b{n}") for n in sizes}
        b6_board = data.build_board(1_000, "b6")
        from django.db import connection

        connection.close()
        print(f"boards built: {[b.records for b in boards.values()]}", flush=True)

        server = ServerProcess().start()
        try:
            drf_bytes = {}
            for n, board in boards.items():
                b2, drf_bytes[n] = __import__("bench.wire", fromlist=["b2_rows"]).b2_rows(
                    server, board, repeats if n < 50_000 else max(3, repeats - 2))
                rows += b2
                print(f"B2 {n} done", flush=True)
            from bench.wire import b3_row

            for n in (1_000, 10_000):
                rows.append(b3_row(server, boards[n], drf_bytes[n], max(repeats, 5)))
                print(f"B3 {n} done", flush=True)
        finally:
            server.stop()

        from bench.writes import b6_rows

        rows += b6_rows(b6_board, repeats)
        print("B6 done", flush=True)
        from bench.client import b4_rows

        rows += b4_rows(repeats)
        print("B4 done", flush=True)
        rows += _not_measured()  # type: ignore[arg-type]
    finally:
        from django.db import connections

        connections.close_all()
        data.drop_database(settings.BENCH_DATABASE_URL)
    report.write(rows, started, time.monotonic() - clock)
    print((Path(__file__).parent / "results.md").read_text())


if __name__ == "__main__":
    main()
