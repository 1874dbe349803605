"""B1 fan-out: from a committed ``Card.save()`` to the patch's arrival at the LAST of N subscribers.

Subscribers of one board (``BOARD_SUBSCRIPTION``) all live in one subscriber process (``bench.fanclients``),
apart from the bench process that drives the run. A save is ``Card.save(update_fields=["title"])`` made by the
writer thread of the worker's agent (``bench.agent``: a long-lived thread, outside any HTTP request, with its
own pooled database connection); it answers the ``time.monotonic`` reading taken just before ``save()``, and
the subscriber process stamps each arrival with the same system-wide clock, so a latency is "last arrival -
that reading": the UPDATE, its commit and the whole propagation. Saves are sequential: the next starts when
every socket has the last. Each measure is ``runs`` runs of at least ``SAVES`` saves after ``WARM_UP``
uncounted ones; a run gives p50 and p99 of its saves, the table the median of the runs with min and max.

Configurations, each in its own processes, all in one run so that their ratios mean something:

- floor (``bench.floor``): the same UPDATE, one re-read of the row, one ``websockets.broadcast`` of a
  frame of our patch's size; measured first, its N=1000 p99 sets the limit of the sustained ladder
  (``bench.capacity``);
- ours, embedded: one uvicorn worker, embedded backends (``bench.server``), on the 100-record board at
  N = 1, 10, 100, 1000 (one user), the event-loop lag during the N=1000 saves, the sustained ladder at
  N=1000, then N=1000 distinct members of the board (a per-user channel renders per user), then the
  1k-record board (N=1 and 1000) and the 10k-record board (N=1);
- ours, clustered: two uvicorn workers on a private redis-server and the MongoDB stand-in (``bench.cluster``),
  subscribers and saves alternating between the workers, 100-record board at every N and the 10k-record board
  at N=1;
- naive (``bench.naive``): strawberry + channel-layer ``group_send``, per subscriber (the nested query re-run
  by every subscriber; up to N=100 with few saves: at 1000 one save would take minutes) and render once (the
  state rendered once and sent to every subscriber).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.cluster import Cluster
from bench.data import BigBoard
from bench.server import ROOT, ServerProcess, free_port, stop_process, wait_port
from bench.stats import Sample, percentile
from bench.subscribers import Subscribers
from bench.triggers import AgentClient, FloorTrigger, SaveTrigger, Trigger

NS = (1, 10, 100, 1000)
NAIVE_NS = (1, 10, 100)
NAIVE_ONCE_NS = (1, 10, 100)
NAIVE_SAVES = {1: 100, 10: 20, 100: 3}  # a save costs N nested queries: 0.04 s at N=1, 7 s at N=100 here
NAIVE_ONCE_SAVES = {1: 100, 10: 100, 100: 20}  # 0.4 s a save at N=100 here
SAVES = 100
MARKERS = itertools.count(int(time.time() * 1000))  # never a title a card already has, run after run
WARM_UP = 10


def next_marker() -> int:
    """A marker number not used before in this run of the suite."""
    return next(MARKERS)


@dataclass(frozen=True)
class Percentiles:
    """p50 and p99 of the saves of each run (median, min, max over the runs) and the message size."""

    p50: Sample
    p99: Sample
    saves_per_run: int
    message_bytes: float


def measure(
    subscribers: Subscribers,
    trigger: Trigger,
    runs: int,
    saves: int,
    each_run: Callable[[], None] | None = None,
    after_run: Callable[[], None] | None = None,
) -> Percentiles:
    """``runs`` runs of ``saves`` sequential changes after ``WARM_UP`` uncounted ones; ``each_run`` and
    ``after_run`` are called around every run (the lag probe's window)."""
    for _ in range(WARM_UP):
        marker = next_marker()
        trigger(marker)
        subscribers.arrival(marker)
    p50: list[float] = []
    p99: list[float] = []
    sizes: list[int] = []
    for _ in range(runs):
        if each_run is not None:
            each_run()
        latencies: list[float] = []
        for _ in range(saves):
            marker = next_marker()
            started = trigger(marker)
            arrival = subscribers.arrival(marker)
            latencies.append(arrival.last - started)
            sizes.append(arrival.size)
        if after_run is not None:
            after_run()
        p50.append(percentile(latencies, 50))
        p99.append(percentile(latencies, 99))
    return Percentiles(Sample.of(p50), Sample.of(p99), saves, sorted(sizes)[len(sizes) // 2])


@dataclass
class FanOut:
    """Everything B1 measured; ``failed`` says what could not be measured and why."""

    floor: dict[int, Percentiles] = field(default_factory=dict)
    floor_database: Sample | None = None
    embedded: dict[int, Percentiles] = field(default_factory=dict)
    embedded_1k: dict[int, Percentiles] = field(default_factory=dict)
    embedded_10k: dict[int, Percentiles] = field(default_factory=dict)
    distinct_users: Percentiles | None = None
    fanout_lag: Sample | None = None
    clustered: dict[int, Percentiles] = field(default_factory=dict)
    clustered_10k: dict[int, Percentiles] = field(default_factory=dict)
    naive: dict[int, Percentiles] = field(default_factory=dict)
    naive_once: dict[int, Percentiles] = field(default_factory=dict)
    subscribe_seconds: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    mongo_kind: str = ""
    patch_bytes: int = 470


@dataclass(frozen=True)
class Boards:
    """The boards of B1: 100, 1k and 10k records; the tokens of the 100-record board's extra members."""

    small: BigBoard
    medium: BigBoard
    large: BigBoard
    member_tokens: list[str]


def _sweep(
    subscribers: Subscribers,
    trigger: Trigger,
    ns: tuple[int, ...],
    runs: int,
    saves: Callable[[int], int],
    out: dict[int, Percentiles],
    label: str,
    seconds: dict[str, float],
    at: Callable[[int], None] | None = None,
) -> None:
    for n in ns:
        seconds[f"{label} {n}"] = subscribers.grow(n)
        out[n] = measure(subscribers, trigger, runs, saves(n))
        print(f"B1 {label} N={n}: p50 {out[n].p50.median * 1e3:.1f} ms, p99 {out[n].p99.median * 1e3:.1f} ms")
        if at is not None:
            at(n)


@contextmanager
def _recording(result: FanOut, what: str) -> Iterator[None]:
    """Record a failure of one configuration (and go on with the others)."""
    try:
        yield
    except Exception as error:  # a configuration that cannot run is reported, not fatal to the suite
        traceback.print_exc()
        result.failed[what] = f"{type(error).__name__}: {error}"


def floor(board: BigBoard, runs: int, result: FanOut, database_url: str, ns: tuple[int, ...] = NS) -> None:
    """The fixed-cost floor (UPDATE, re-read, broadcast) at every N of ``ns``."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", str(port)],
        cwd=ROOT,
        env={**os.environ, "RXGRAPHQL_BENCH_DATABASE_URL": database_url},
    )
    try:
        wait_port(port, process)
        trigger = FloorTrigger(port, result.patch_bytes, board.card_ids)
        try:
            with Subscribers("raw", [f"ws://127.0.0.1:{port}/sub"]) as subscribers:
                _sweep(
                    subscribers,
                    trigger,
                    ns,
                    runs,
                    lambda n: SAVES,
                    result.floor,
                    "floor",
                    result.subscribe_seconds,
                )
        finally:
            trigger.close()
        result.floor_database = Sample.of(trigger.database_seconds)
    finally:
        stop_process(process)


def patch_size(boards: Boards) -> int:
    """The size of our patch of a title save (the floor sends frames of that size)."""
    server = ServerProcess().start()
    trigger = SaveTrigger([server.agent_port], boards.small.card_ids)
    try:
        with Subscribers("ours", [server.ws_url], boards.small.token, boards.small.pk) as subscribers:
            subscribers.grow(1)
            sizes = []
            for _ in range(WARM_UP):
                marker = next_marker()
                trigger(marker)
                sizes.append(subscribers.arrival(marker).size)
            return sorted(sizes)[len(sizes) // 2]
    finally:
        trigger.close()
        server.stop()


def ours_embedded(
    boards: Boards,
    runs: int,
    result: FanOut,
    at_1000: Callable[[Subscribers, SaveTrigger], None] | None,
    only_1000: bool = False,
) -> None:
    """One worker with the embedded backends (see the module docstring for the order); ``only_1000``: the
    100-record board at N=1000 and ``at_1000`` only."""
    server = ServerProcess().start()
    trigger = SaveTrigger([server.agent_port], boards.small.card_ids)
    agent = AgentClient(server.agent_port)
    lags: list[float] = []
    try:
        with Subscribers("ours", [server.ws_url], boards.small.token, boards.small.pk) as subscribers:
            if not only_1000:
                _sweep(
                    subscribers,
                    trigger,
                    NS[:-1],
                    runs,
                    lambda n: SAVES,
                    result.embedded,
                    "embedded",
                    result.subscribe_seconds,
                )
            result.subscribe_seconds["embedded 1000"] = subscribers.grow(1000)
            result.embedded[1000] = measure(
                subscribers, trigger, runs, SAVES, agent.lag_reset, lambda: lags.append(agent.lag())
            )
            result.fanout_lag = Sample.of(lags)
            print(f"B1 embedded N=1000: p99 {result.embedded[1000].p99.median * 1e3:.1f} ms, lag {lags}")
            if at_1000 is not None:
                at_1000(subscribers, trigger)
        if only_1000:
            return
        with (
            _recording(result, "distinct users"),
            Subscribers("ours", [server.ws_url], boards.member_tokens, boards.small.pk) as subscribers,
        ):
            result.subscribe_seconds["distinct 1000"] = subscribers.grow(1000)
            result.distinct_users = measure(subscribers, trigger, runs, SAVES)
            print(f"B1 distinct users N=1000: p99 {result.distinct_users.p99.median * 1e3:.1f} ms")
        trigger.close()
        trigger = SaveTrigger([server.agent_port], boards.medium.card_ids)
        with (
            _recording(result, "1k board"),
            Subscribers("ours", [server.ws_url], boards.medium.token, boards.medium.pk) as subscribers,
        ):
            _sweep(
                subscribers,
                trigger,
                (1, 1000),
                runs,
                lambda n: SAVES,
                result.embedded_1k,
                "embedded 1k",
                result.subscribe_seconds,
            )
        trigger.close()
        trigger = SaveTrigger([server.agent_port], boards.large.card_ids)
        with (
            _recording(result, "10k board"),
            Subscribers("ours", [server.ws_url], boards.large.token, boards.large.pk) as subscribers,
        ):
            _sweep(
                subscribers,
                trigger,
                (1,),
                runs,
                lambda n: SAVES,
                result.embedded_10k,
                "embedded 10k",
                result.subscribe_seconds,
            )
    finally:
        agent.close()
        trigger.close()
        server.stop()


def ours_clustered(boards: Boards, runs: int, result: FanOut) -> None:
    """Two workers on Redis and MongoDB; subscribers and saves alternate between them."""
    with Cluster() as cluster:
        result.mongo_kind = cluster.mongo_kind
        urls = [w.ws_url for w in cluster.workers]
        ports = [w.agent_port for w in cluster.workers]
        trigger = SaveTrigger(ports, boards.small.card_ids)
        try:
            with Subscribers("ours", urls, boards.small.token, boards.small.pk) as subscribers:
                _sweep(
                    subscribers,
                    trigger,
                    NS,
                    runs,
                    lambda n: SAVES,
                    result.clustered,
                    "clustered",
                    result.subscribe_seconds,
                )
        finally:
            trigger.close()
        trigger = SaveTrigger(ports, boards.large.card_ids)
        try:
            with (
                _recording(result, "clustered 10k board"),
                Subscribers("ours", urls, boards.large.token, boards.large.pk) as subscribers,
            ):
                _sweep(
                    subscribers,
                    trigger,
                    (1,),
                    runs,
                    lambda n: SAVES,
                    result.clustered_10k,
                    "clustered 10k",
                    result.subscribe_seconds,
                )
        finally:
            trigger.close()


def naive(board: BigBoard, result: FanOut) -> None:
    """strawberry + channel layer, re-rendered per subscriber: one run, fewer saves as N grows (each save
    costs N nested queries)."""
    server = ServerProcess(app="bench.naive:application").start()
    trigger = SaveTrigger([server.agent_port], board.card_ids)
    try:
        with Subscribers("naive", [server.ws_url], board.token, board.pk) as subscribers:
            _sweep(
                subscribers,
                trigger,
                NAIVE_NS,
                1,
                lambda n: NAIVE_SAVES[n],
                result.naive,
                "naive",
                result.subscribe_seconds,
            )
    finally:
        trigger.close()
        server.stop()


def naive_once(board: BigBoard, result: FanOut) -> None:
    """strawberry + channel layer, the state rendered once per save: one run per N."""
    server = ServerProcess(
        app="bench.naive:application", env={"RXGRAPHQL_BENCH_NAIVE": "render-once"}
    ).start()
    trigger = SaveTrigger([server.agent_port], board.card_ids)
    try:
        with Subscribers("naive", [server.ws_url], board.token, board.pk) as subscribers:
            _sweep(
                subscribers,
                trigger,
                NAIVE_ONCE_NS,
                1,
                lambda n: NAIVE_ONCE_SAVES[n],
                result.naive_once,
                "naive render-once",
                result.subscribe_seconds,
            )
    finally:
        trigger.close()
        server.stop()
