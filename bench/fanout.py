"""B1 fan-out: from a committed ``Card.save()`` to the patch's arrival at the LAST of N subscribers.

N = 1, 10, 100, 1000 subscribers of one board (``BOARD_SUBSCRIPTION``), all in one subscriber process
(``bench.fanclients``) apart from the writer (this process). A save is ``POST /bench/save-card/<pk>``:
the view calls ``Card.save(update_fields=["title"])`` in the server process (autocommit) and answers the
``time.monotonic`` reading taken just before ``save()``; the subscriber process stamps each arrival with
the same system-wide clock, so a latency is "last arrival - that reading" and includes the UPDATE, its
commit and the whole propagation. Saves are sequential: the next starts when every socket has the last.

Configurations, each in its own processes:

- ours, embedded: one uvicorn worker, embedded backends (``bench.server``);
- ours, Redis: two uvicorn workers on a private redis-server and MongoDB (``bench.cluster``), subscribers
  alternating between the workers, saves alternating between them too;
- floor: ``bench.floor`` broadcasting a frame of the same size as our patch (``websockets.broadcast``);
  the time is from the server's clock reading before the broadcast to the last arrival;
- naive: ``bench.naive`` (strawberry + channel-layer ``group_send``, the nested query re-executed per
  subscriber), N up to 100 only: at 1000 one save would take minutes.

Each configuration makes ``runs`` runs of several saves per N; a run gives p50 and p99 of its saves and
the table shows the median of the runs with min and max.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from websockets.sync.client import ClientConnection, connect

from bench.cluster import Cluster
from bench.data import BigBoard
from bench.server import ROOT, ServerProcess, free_port, stop_process, wait_port
from bench.stats import Row, Sample, percentile
from bench.subscribers import Subscribers

NS = (1, 10, 100, 1000)
NAIVE_NS = (1, 10, 100)
MARKERS = itertools.count(int(time.time() * 1000))  # never a title a card already has, run after run
WARM_UP = 2


def next_marker() -> int:
    """A marker number not used before in this run of the suite."""
    return next(MARKERS)


class Trigger(Protocol):
    """Starts one change carrying ``fan-<marker>``; returns the ``time.monotonic`` reading of its start."""

    def __call__(self, marker: int) -> float: ...

    def close(self) -> None: ...


class SaveTrigger:
    """Card saves through ``POST /bench/save-card/<pk>``, alternating over servers and cards."""

    def __init__(self, base_urls: list[str], card_ids: list[int]) -> None:
        self.clients = [httpx.Client(base_url=url, timeout=120) for url in base_urls]
        self.card_ids = card_ids
        self.count = 0

    def __call__(self, marker: int) -> float:
        client = self.clients[self.count % len(self.clients)]
        card = self.card_ids[self.count % len(self.card_ids)]
        self.count += 1
        response = client.post(f"/bench/save-card/{card}", data={"title": f"fan-{marker}"})
        response.raise_for_status()
        return float(response.json()["t0"])

    def close(self) -> None:
        """Close the HTTP connections."""
        for client in self.clients:
            client.close()


class FloorTrigger:
    """Broadcasts of ``bench.floor`` through its control socket."""

    def __init__(self, port: int, size: int) -> None:
        self.size = size
        self.ws: ClientConnection = connect(f"ws://127.0.0.1:{port}/control")

    def __call__(self, marker: int) -> float:
        self.ws.send(json.dumps({"marker": f"fan-{marker}", "size": self.size}))
        return float(json.loads(self.ws.recv())["t0"])

    def close(self) -> None:
        """Close the control socket."""
        self.ws.close()


@dataclass(frozen=True)
class Percentiles:
    """p50 and p99 of the saves of each run (median, min, max over the runs) and the message size."""

    p50: Sample
    p99: Sample
    saves_per_run: int
    message_bytes: float


def measure(subscribers: Subscribers, trigger: Trigger, runs: int, saves: int) -> Percentiles:
    """``runs`` runs of ``saves`` sequential changes after ``WARM_UP`` uncounted ones."""
    for _ in range(WARM_UP):
        marker = next_marker()
        trigger(marker)
        subscribers.arrival(marker)
    p50: list[float] = []
    p99: list[float] = []
    sizes: list[int] = []
    for _ in range(runs):
        latencies: list[float] = []
        for _ in range(saves):
            marker = next_marker()
            started = trigger(marker)
            arrival = subscribers.arrival(marker)
            latencies.append(arrival.last - started)
            sizes.append(arrival.size)
        p50.append(percentile(latencies, 50))
        p99.append(percentile(latencies, 99))
    return Percentiles(Sample.of(p50), Sample.of(p99), saves, sorted(sizes)[len(sizes) // 2])


@dataclass
class FanOut:
    """Everything B1 measured."""

    embedded: dict[int, Percentiles] = field(default_factory=dict)
    redis: dict[int, Percentiles] = field(default_factory=dict)
    floor: dict[int, Percentiles] = field(default_factory=dict)
    naive: dict[int, Percentiles] = field(default_factory=dict)
    subscribe_seconds: dict[str, float] = field(default_factory=dict)
    mongo_kind: str = ""


Hook = Callable[[Subscribers, Trigger], None]


def _sweep(
    subscribers: Subscribers,
    trigger: Trigger,
    ns: tuple[int, ...],
    runs: int,
    saves: Callable[[int], int],
    out: dict[int, Percentiles],
    label: str,
    seconds: dict[str, float],
) -> None:
    for n in ns:
        seconds[f"{label} {n}"] = subscribers.grow(n)
        out[n] = measure(subscribers, trigger, runs, saves(n))
        print(f"B1 {label} N={n}: p99 {out[n].p99.median * 1e3:.1f} ms", flush=True)


def ours_embedded(board: BigBoard, runs: int, result: FanOut, at_1000: Hook | None = None) -> None:
    """One worker with the embedded backends; ``at_1000`` runs with the 1000 subscribers still open."""
    server = ServerProcess().start()
    trigger = SaveTrigger([server.http_url], board.card_ids)
    try:
        with Subscribers("ours", [server.ws_url], board.token, board.pk) as subscribers:
            _sweep(
                subscribers,
                trigger,
                NS,
                runs,
                lambda n: 20,
                result.embedded,
                "embedded",
                result.subscribe_seconds,
            )
            if at_1000 is not None:
                at_1000(subscribers, trigger)
    finally:
        trigger.close()
        server.stop()


def ours_redis(board: BigBoard, runs: int, result: FanOut) -> None:
    """Two workers on Redis and MongoDB; subscribers and saves alternate between them."""
    with Cluster() as cluster:
        result.mongo_kind = cluster.mongo_kind
        trigger = SaveTrigger([w.http_url for w in cluster.workers], board.card_ids)
        try:
            urls = [w.ws_url for w in cluster.workers]
            with Subscribers("ours", urls, board.token, board.pk) as subscribers:
                _sweep(
                    subscribers,
                    trigger,
                    NS,
                    runs,
                    lambda n: 20,
                    result.redis,
                    "redis",
                    result.subscribe_seconds,
                )
        finally:
            trigger.close()


def floor(runs: int, message_bytes: int, result: FanOut) -> None:
    """The bare broadcast server."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "bench.floor", str(port)], cwd=ROOT)
    try:
        wait_port(port, process)
        trigger = FloorTrigger(port, message_bytes)
        try:
            with Subscribers("raw", [f"ws://127.0.0.1:{port}/sub"]) as subscribers:
                _sweep(
                    subscribers,
                    trigger,
                    NS,
                    runs,
                    lambda n: 20,
                    result.floor,
                    "floor",
                    result.subscribe_seconds,
                )
        finally:
            trigger.close()
    finally:
        stop_process(process)


def naive(board: BigBoard, runs: int, result: FanOut) -> None:
    """strawberry + channel layer; fewer saves at N=100 (each costs N nested queries)."""
    server = ServerProcess(app="bench.naive:application").start()
    trigger = SaveTrigger([server.http_url], board.card_ids)
    try:
        with Subscribers("naive", [server.ws_url], board.token, board.pk) as subscribers:
            _sweep(
                subscribers,
                trigger,
                NAIVE_NS,
                runs,
                lambda n: 20 if n < 100 else 6,
                result.naive,
                "naive",
                result.subscribe_seconds,
            )
    finally:
        trigger.close()
        server.stop()


FLOOR = "floor (bare websockets broadcast)"
NAIVE = "naive (strawberry + group_send)"


def _row(
    measure: str,
    stat: str,
    ours: Percentiles,
    name: str,
    other: Percentiles,
    series: str,
    n: int,
    **kw: Any,
) -> Row:
    plot = {"figure": "b1", "series": series, "comparison_series": name, "x": n, "stat": stat}
    return Row(
        "B1", measure, "s", getattr(ours, stat), name, getattr(other, stat), extra={"plot": plot}, **kw
    )


def rows(result: FanOut) -> list[Row]:
    """p50 and p99 per N: embedded and Redis against the floor, embedded against naive."""
    out: list[Row] = []
    for n in NS:
        for stat in ("p50", "p99"):
            target: dict[str, Any] = {}
            if n == 1000 and stat == "p99":
                target = {"target": "<= 3x floor and < 100 ms", "target_ratio": 3.0, "target_max": 0.1}
            note = ""
            if n == 1000 and stat == "p50":
                note = (
                    f"{result.embedded[n].saves_per_run} saves per run; the floor sends frames of our "
                    f"patch's size ({result.floor[n].message_bytes:.0f} B)"
                )
            out.append(
                _row(
                    f"fan-out {stat}, N={n}, embedded (1 worker)",
                    stat,
                    result.embedded[n],
                    FLOOR,
                    result.floor[n],
                    "rxgraphql, 1 worker, embedded",
                    n,
                    note=note,
                    **target,
                )
            )
    for n in NS:
        for stat in ("p50", "p99"):
            target = {}
            if n == 1000 and stat == "p99":
                target = {"target": "<= 3x floor and < 100 ms", "target_ratio": 3.0, "target_max": 0.1}
            note = ""
            if n == 1000 and stat == "p50":
                note = (
                    f"two uvicorn workers on a private redis-server and {result.mongo_kind}; subscribers and "
                    "saves alternate between the workers"
                )
            out.append(
                _row(
                    f"fan-out {stat}, N={n}, 2 workers + Redis",
                    stat,
                    result.redis[n],
                    FLOOR,
                    result.floor[n],
                    "rxgraphql, 2 workers, Redis",
                    n,
                    note=note,
                    **target,
                )
            )
    for n in NAIVE_NS:
        for stat in ("p50", "p99"):
            target = {}
            note = ""
            if n == 100:
                target = {"target": ">= 10x faster than naive", "target_ratio": 0.1}
                if stat == "p50":
                    note = (
                        "naive: one worker, InMemoryChannelLayer, each subscriber re-runs BoardSerializer; "
                        f"{result.naive[n].saves_per_run} saves per run at N={n}; "
                        "not run at N=1000 (minutes a save)"
                    )
            out.append(
                _row(
                    f"fan-out {stat}, N={n}, embedded vs naive",
                    stat,
                    result.embedded[n],
                    NAIVE,
                    result.naive[n],
                    "rxgraphql, 1 worker, embedded",
                    n,
                    note=note,
                    **target,
                )
            )
    return out
