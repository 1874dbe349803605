"""B5 capacity of one worker (embedded backends).

(a) Idle subscribed sockets: one uvicorn worker, the smallest board (one card: 20 records are sent, so that
5000 snapshots take seconds, not minutes); sockets are opened and subscribed in steps up to ``IDLE_SOCKETS``
by the subscriber process (``bench.fanclients``, which answers the server's pings), and the worker's RSS
(``VmRSS``) is read after each step. Memory per socket = (RSS with N subscribed idle sockets - RSS with one)
/ (N - 1). Both processes lift their open-file limit to the hard limit first.

(b) Sustained writes: with the 1000 subscribers of B1 (embedded) still open, the worker's writer thread
(``bench.agent``) makes saves at a fixed rate, ``STEP_SAVES`` saves per step (``RATES``), each timed from
before ``save()`` to its arrival at the last of the 1000 sockets as in B1; the ladder stops at the first step
whose p99 passes the limit (3x the floor's N=1000 p99 of the same run) or whose saves arrive not at all within
``DRAIN_SECONDS``. A step counts only if the writer kept at least 90 % of its rate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bench.data import BigBoard
from bench.fanout import next_marker
from bench.server import ServerProcess, rss_bytes
from bench.stats import Row, Sample, percentile
from bench.subscribers import Subscribers
from bench.triggers import SaveTrigger

IDLE_BOARD_RECORDS = 29
IDLE_SOCKETS = 5000
IDLE_STEPS = (1, 1000, 2500, IDLE_SOCKETS)
RATES = (10, 20, 30, 50, 75, 100, 150)
STEP_SAVES = 100
DRAIN_SECONDS = 10.0
LIMIT_FLOORS = 3.0
KIB = 1024


@dataclass
class Idle:
    """Server RSS after each step of subscribed sockets, and how long subscribing took."""

    rss: dict[int, int] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)

    @property
    def held(self) -> int:
        """The most sockets held subscribed at once."""
        return max(self.rss)

    @property
    def per_socket(self) -> float:
        """Bytes of server RSS per subscribed idle socket."""
        base = min(self.rss)
        return (self.rss[self.held] - self.rss[base]) / (self.held - base)


def idle_sockets(board: BigBoard) -> Idle:
    """(a): one worker, ``IDLE_SOCKETS`` subscribed sockets of ``board``."""
    result = Idle()
    server = ServerProcess().start()
    try:
        with Subscribers("ours", [server.ws_url], board.token, board.pk) as subscribers:
            for step in IDLE_STEPS:
                result.seconds[step] = subscribers.grow(step, timeout=600)
                result.rss[step] = rss_bytes(server.pid)
                print(f"B5 idle: {step} sockets, server RSS {result.rss[step] / 2**20:.0f} MiB", flush=True)
    finally:
        server.stop()
    return result


@dataclass(frozen=True)
class Step:
    """One rate of the ladder."""

    rate: float
    achieved: float
    p99: float
    p50: float
    saves: int
    arrived: int
    limit: float

    @property
    def sustained(self) -> bool:
        """Every save arrived, p99 within the limit and the writer kept its pace."""
        return self.arrived == self.saves and self.p99 <= self.limit and self.achieved >= 0.9 * self.rate


def _step(subscribers: Subscribers, trigger: SaveTrigger, rate: float, limit: float) -> Step:
    markers = [next_marker() for _ in range(STEP_SAVES)]
    starts, achieved = trigger.paced(markers, rate)
    deadline = time.monotonic() + DRAIN_SECONDS
    latencies: list[float] = []
    for marker, started in zip(markers, starts, strict=True):
        try:
            arrival = subscribers.arrival(marker, timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            latencies.append(math.inf)
            continue
        latencies.append(arrival.last - started)
    arrived = sum(1 for value in latencies if value != math.inf)
    return Step(
        rate, achieved, percentile(latencies, 99), percentile(latencies, 50), len(markers), arrived, limit
    )


def ladder(subscribers: Subscribers, trigger: SaveTrigger, limit: float) -> list[Step]:
    """(b): step the write rate up until p99 passes ``limit``."""
    steps: list[Step] = []
    for rate in RATES:
        step = _step(subscribers, trigger, rate, limit)
        steps.append(step)
        print(
            f"B5 rate {rate}/s (achieved {step.achieved:.1f}): p99 {step.p99 * 1e3:.1f} ms "
            f"(limit {limit * 1e3:.1f}), {step.arrived}/{step.saves} arrived",
            flush=True,
        )
        if not step.sustained:
            break
    return steps


def idle_rows(idle: Idle) -> list[Row]:
    """The B5 rows of (a): sockets held, memory per socket."""
    rss_note = ", ".join(f"{n}: {rss / 2**20:.0f} MiB" for n, rss in sorted(idle.rss.items()))
    return [
        Row(
            "B5",
            "idle subscribed sockets held by one worker",
            "sockets",
            Sample.of([idle.held]),
            target=f">= {IDLE_SOCKETS}",
            target_min=IDLE_SOCKETS,
            note=f"a one-card board (20 records sent); tried {IDLE_SOCKETS}, the most this bench opens",
            extra={"seconds_to_subscribe": idle.seconds},
        ),
        Row(
            "B5",
            f"server memory per idle subscribed socket (at {idle.held})",
            "iB",
            Sample.of([idle.per_socket]),
            target="<= 64 KiB",
            target_max=64 * KIB,
            note=f"(RSS at {idle.held} - RSS at 1) / {idle.held - 1}; worker RSS by sockets: {rss_note}",
            extra={"rss": idle.rss, "plot": {"figure": "b5_idle"}},
        ),
    ]


def sustained_row(ladders: list[list[Step]], limit: float, subscribers: int, coalescing: str) -> Row:
    """The B5 row of (b): the highest sustained rate (median over the ladders)."""
    best = [max((s.rate for s in steps if s.sustained), default=0.0) for steps in ladders]
    return Row(
        "B5",
        f"saves/s patched to {subscribers} subscribers with p99 <= 3x floor",
        "1/s",
        Sample.of(best) if best else None,
        target=">= 50/s per worker",
        target_min=50,
        note=(
            f"highest step of {', '.join(map(str, RATES))} saves/s ({STEP_SAVES} saves each, made by the "
            f"worker's writer thread) whose p99 (save to the last of {subscribers} sockets) stayed <= "
            f"{LIMIT_FLOORS:.0f}x the floor's N={subscribers} p99 of this run ({limit * 1e3:.1f} ms); "
            f"{coalescing}; "
            "the writer, the server and the sockets share the machine's 2 CPUs"
        ),
        extra={
            "limit": limit,
            "ladders": [[s.__dict__ for s in steps] for steps in ladders],
            "plot": {"figure": "b5_rate"},
        },
    )
