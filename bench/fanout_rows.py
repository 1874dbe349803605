"""The rows of B1 (``bench.fanout``): the targets of the write path as ratios within one run, then the
fan-out sweeps the plot draws."""

from __future__ import annotations

from typing import Any

from bench.fanout import NAIVE_NS, NAIVE_ONCE_NS, NS, FanOut, Percentiles
from bench.stats import Row, Sample

FLOOR = "floor (UPDATE + re-read + broadcast)"
NAIVE = "naive, per subscriber (strawberry + group_send)"
NAIVE_ONCE = "naive, render once (strawberry + group_send)"
CLUSTERED = "2 workers + Redis + MongoDB stand-in"
CLUSTERED_REAL = "2 workers + Redis + MongoDB"


def _clustered(result: FanOut) -> str:
    """The clustered configuration's name; it says when the record cache is the stand-in."""
    return CLUSTERED_REAL if result.mongo_kind == "a MongoDB server" else CLUSTERED


def _stat(p: Percentiles | None, stat: str) -> Sample | None:
    return None if p is None else getattr(p, stat)


def _missing(result: FanOut, what: str) -> str:
    error = result.failed.get(what)
    return f"not measured: {error}" if error else ""


def _sweep_row(
    measure: str,
    stat: str,
    ours: Percentiles | None,
    name: str,
    other: Percentiles | None,
    series: str,
    n: int,
    **kw: Any,
) -> Row:
    plot = {"figure": "b1", "series": series, "comparison_series": name, "x": n, "stat": stat}
    return Row("B1", measure, "s", _stat(ours, stat), name, _stat(other, stat), extra={"plot": plot}, **kw)


def target_rows(result: FanOut) -> list[Row]:
    """The rows of issue 11's targets."""
    e, c, f = result.embedded, result.clustered, result.floor
    stand_in = f"runs on {result.mongo_kind}" if result.mongo_kind else "runs on the MongoDB stand-in"
    floor_db = (
        f"; the floor's UPDATE + re-read took {result.floor_database.median * 1e3:.2f} ms (median)"
        if result.floor_database
        else ""
    )
    rows = [
        Row(
            "B1",
            "save to socket p50, N=1, embedded, 100-record board",
            "s",
            _stat(e.get(1), "p50"),
            f"{FLOOR}, N=1",
            _stat(f.get(1), "p50"),
            target="<= 2x floor",
            target_ratio=2.0,
            note=f"saves by the worker's writer thread, {e[1].saves_per_run if 1 in e else 0}/run{floor_db}",
        ),
        Row(
            "B1",
            f"save to socket p50, N=1, {_clustered(result)}, 100-record board",
            "s",
            _stat(c.get(1), "p50"),
            "embedded, N=1",
            _stat(e.get(1), "p50"),
            target="<= 2x embedded",
            target_ratio=2.0,
            note=f"{stand_in}; saves alternate between the workers' writer threads",
        ),
        Row(
            "B1",
            "save cost p50, N=1, embedded: 10k-record board",
            "s",
            _stat(result.embedded_10k.get(1), "p50"),
            "100-record board",
            _stat(e.get(1), "p50"),
            target="<= 1.3x",
            target_ratio=1.3,
            note=_missing(result, "10k board"),
        ),
        Row(
            "B1",
            f"save cost p50, N=1, {_clustered(result)}: 10k-record board",
            "s",
            _stat(result.clustered_10k.get(1), "p50"),
            "100-record board",
            _stat(c.get(1), "p50"),
            target="<= 1.3x",
            target_ratio=1.3,
            note="; ".join(x for x in (stand_in, _missing(result, "clustered 10k board")) if x),
        ),
        Row(
            "B1",
            "save cost p50, N=1, embedded: 1k-record board",
            "s",
            _stat(result.embedded_1k.get(1), "p50"),
            "100-record board",
            _stat(e.get(1), "p50"),
            note=_missing(result, "1k board"),
        ),
        Row(
            "B1",
            "per-user channel, N=1000 distinct members: last socket p50",
            "s",
            _stat(result.distinct_users, "p50"),
            "N=1000, one user",
            _stat(e.get(1000), "p50"),
            target="<= 1.3x",
            target_ratio=1.3,
            note="; ".join(
                x
                for x in (
                    "the board's serializer has per-user records (reminders, user_key); 100-record board; "
                    "a title save carries none",
                    _missing(result, "distinct users"),
                )
                if x
            ),
        ),
        Row(
            "B1",
            "per-user channel, N=1000 distinct members: last socket p99",
            "s",
            _stat(result.distinct_users, "p99"),
            "N=1000, one user",
            _stat(e.get(1000), "p99"),
        ),
        Row(
            "B1",
            "save to last socket p99, N=1000, embedded, 100-record board",
            "s",
            _stat(e.get(1000), "p99"),
            f"{FLOOR}, N=1000",
            _stat(f.get(1000), "p99"),
            target="<= 2x floor",
            target_ratio=2.0,
            note=f"the floor sends frames of our patch's size ({result.patch_bytes} B)",
        ),
        Row(
            "B1",
            "save to last socket p99, N=1000, embedded, 1k-record board",
            "s",
            _stat(result.embedded_1k.get(1000), "p99"),
            f"{FLOOR}, N=1000",
            _stat(f.get(1000), "p99"),
        ),
        Row(
            "B1",
            "event-loop lag during fan-out to 1000 (longest gap between probe ticks)",
            "s",
            result.fanout_lag,
            note="a probe coroutine in the worker ticks every 5 ms; one figure per run of saves",
        ),
    ]
    return rows


def sweep_rows(result: FanOut) -> list[Row]:
    """p50 and p99 per N: embedded and clustered against the floor, embedded against both naive servers."""
    out: list[Row] = []
    for n in NS:
        for stat in ("p50", "p99"):
            out.append(
                _sweep_row(
                    f"fan-out {stat}, N={n}, embedded",
                    stat,
                    result.embedded.get(n),
                    FLOOR,
                    result.floor.get(n),
                    "rxgraphql, 1 worker, embedded",
                    n,
                )
            )
    for n in NS:
        for stat in ("p50", "p99"):
            out.append(
                _sweep_row(
                    f"fan-out {stat}, N={n}, {_clustered(result)}",
                    stat,
                    result.clustered.get(n),
                    FLOOR,
                    result.floor.get(n),
                    f"rxgraphql, {_clustered(result)}",
                    n,
                )
            )
    for n in NAIVE_NS:
        p = result.naive.get(n)
        for stat in ("p50", "p99"):
            target: dict[str, Any] = {}
            if n == 100 and stat == "p99":
                target = {"target": ">= 10x faster than naive", "target_ratio": 0.1}
            out.append(
                _sweep_row(
                    f"fan-out {stat}, N={n}, embedded vs naive per subscriber",
                    stat,
                    result.embedded.get(n),
                    NAIVE,
                    p,
                    "rxgraphql, 1 worker, embedded",
                    n,
                    note=f"naive: 1 run of {p.saves_per_run} saves" if p and stat == "p50" else "",
                    **target,
                )
            )
    for n in NAIVE_ONCE_NS:
        p = result.naive_once.get(n)
        for stat in ("p50", "p99"):
            out.append(
                _sweep_row(
                    f"fan-out {stat}, N={n}, embedded vs naive render once",
                    stat,
                    result.embedded.get(n),
                    NAIVE_ONCE,
                    p,
                    "rxgraphql, 1 worker, embedded",
                    n,
                    note=f"naive: 1 run of {p.saves_per_run} saves" if p and stat == "p50" else "",
                )
            )
    return out
