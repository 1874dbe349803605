"""Run the benchmark suite: ``.venv/bin/python -m bench [PART ...]`` (from the repository root).

PARTs: B1 (fan-out; with B5's sustained ladder), B2 (first full state; with B3), B4 (client store),
B5 (capacity: idle sockets, and the sustained ladder with what it needs of B1), B6 (save cost per capture
mode); none means all. Options: ``--quick`` (fewer runs), ``--repeats N``, ``--large`` (B2 on a 50k-record
board too). Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and ``redis-server`` on the PATH; the database
named by ``RXGRAPHQL_BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432/rxgraphql_bench``)
is created at the start and dropped at the end. A full run writes ``bench/results.md``,
``bench/results.json`` and the PNG plots of ``bench/plots/``; a partial run writes the same files under
``bench/partial/`` (not committed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.data import BigBoard
    from bench.stats import Row

ROOT = Path(__file__).resolve().parent.parent
for entry in (str(ROOT), str(ROOT / "example")):
    if entry not in sys.path:
        sys.path.insert(0, entry)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

PARTS = ("B1", "B2", "B4", "B5", "B6")
FANOUT_BOARD_RECORDS = 100
DISTINCT_MEMBERS = 1000


def main() -> None:
    """Create the database, build the boards, run the measures, write the results, drop the database."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--quick", action="store_true", help="fewer runs per measure")
    parser.add_argument("--repeats", type=int, default=None, help="runs per measure (default 5)")
    parser.add_argument("--large", action="store_true", help="B2 on a 50k-record board too")
    args = parser.parse_args()
    parts = {part.upper() for part in args.parts} or set(PARTS)
    unknown = parts - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; parts are {', '.join(PARTS)}")
    repeats = args.repeats or (3 if args.quick else 5)
    fanout_runs = 1 if args.quick else 2
    out = ROOT / "bench" if parts == set(PARTS) else ROOT / "bench" / "partial"

    import django

    from bench import capacity, data, fanout, report, settings
    from bench.fanout_rows import sweep_rows, target_rows
    from bench.subscribers import Subscribers
    from bench.triggers import SaveTrigger

    started = report.now()
    clock = time.monotonic()
    data.create_database(settings.BENCH_DATABASE_URL)
    rows: list[Row] = []
    try:
        django.setup()
        data.migrate()
        sizes = [1_000, 10_000] + ([50_000] if args.large else [])
        wanted = sizes if "B2" in parts else [1_000, 10_000] if "B1" in parts else []
        boards = {n: data.build_board(n, f"b{n}") for n in wanted}
        from django.db import connection

        print(f"boards built: {[b.records for b in boards.values()]}", flush=True)
        if "B2" in parts:
            rows += _first_state(boards, repeats)
            print(f"B2 done at {time.monotonic() - clock:.0f} s", flush=True)
        if parts & {"B1", "B5"}:
            small = data.build_board(FANOUT_BOARD_RECORDS, "b1")
            tokens = data.add_members(small, DISTINCT_MEMBERS, "b1") if "B1" in parts else []
            connection.close()
            b1_boards = fanout.Boards(small, boards.get(1_000, small), boards.get(10_000, small), tokens)
            fan = fanout.FanOut()
            fan.patch_bytes = fanout.patch_size(b1_boards)
            ladders: list[list[capacity.Step]] = []
            only_1000 = "B1" not in parts
            fanout.floor(
                small, fanout_runs, fan, settings.BENCH_DATABASE_URL, (1000,) if only_1000 else fanout.NS
            )
            limit = capacity.LIMIT_FLOORS * fan.floor[1000].p99.median

            def at_1000(subscribers: Subscribers, trigger: SaveTrigger) -> None:
                if "B5" in parts:
                    for _ in range(1 if args.quick else 2):
                        ladders.append(capacity.ladder(subscribers, trigger, limit))

            fanout.ours_embedded(b1_boards, fanout_runs, fan, at_1000, only_1000)
            if "B1" in parts:
                with fanout._recording(fan, "clustered"):
                    fanout.ours_clustered(b1_boards, fanout_runs, fan)
                with fanout._recording(fan, "naive"):
                    fanout.naive(small, fan)
                with fanout._recording(fan, "naive render-once"):
                    fanout.naive_once(small, fan)
                rows += target_rows(fan) + sweep_rows(fan)
                print(f"B1 done at {time.monotonic() - clock:.0f} s", flush=True)
            if "B5" in parts:
                rows.append(capacity.sustained_row(ladders, limit, 1000, _coalescing()))
        if "B5" in parts:
            idle_board = data.build_board(capacity.IDLE_BOARD_RECORDS, "b5")
            connection.close()
            rows += capacity.idle_rows(capacity.idle_sockets(idle_board))
            print(f"B5 done at {time.monotonic() - clock:.0f} s", flush=True)
        if "B6" in parts:
            from bench.writes import b6_rows

            b6_board = data.build_board(1_000, "b6")
            connection.close()
            rows += b6_rows(b6_board, repeats)
            print(f"B6 done at {time.monotonic() - clock:.0f} s", flush=True)
        if "B4" in parts:
            from bench.client import b4_rows

            rows += b4_rows(repeats)
            print(f"B4 done at {time.monotonic() - clock:.0f} s", flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        data.drop_database(settings.BENCH_DATABASE_URL)
    report.write(rows, started, time.monotonic() - clock, out, sorted(parts))
    print((out / "results.md").read_text())


def _first_state(boards: dict[int, BigBoard], repeats: int) -> list[Row]:
    from django.db import connection

    from bench.server import ServerProcess
    from bench.wire import b2_rows, b3_row

    connection.close()
    rows: list[Row] = []
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
    return rows


def _coalescing() -> str:
    """What the installed rxgraphql does about coalescing, for the sustained row's note."""
    from rxgraphql.feeds import AnchorFeed

    if getattr(AnchorFeed, "coalesce", False):
        return (
            "coalescing on: patches of an anchor waiting for the loop are merged, and a group still "
            "sending merges newer patches into what its unreached sockets get"
        )
    return "the installed rxgraphql does not coalesce: patches are sent one per save"


if __name__ == "__main__":
    main()
