"""B5 capacity of one worker (embedded backends).

(a) Idle subscribed sockets: one uvicorn worker, the smallest board (one card: 20 records are sent, so that
5000 snapshots take seconds, not minutes); sockets are opened and subscribed in steps up to ``IDLE_SOCKETS``
by the subscriber process (``bench.fanclients``, which answers the server's pings), and the worker's RSS
(``VmRSS``) is read after each step. Memory per socket = (RSS with N subscribed idle sockets - RSS with one)
/ (N - 1). Both processes lift their open-file limit to the hard limit first.

(b) Sustained writes: with the 1000 subscribers of B1 (embedded) still open, saves are made at a fixed
rate for ``STEP_SECONDS`` per step (``RATES``: 5 up to 100 saves/s), each timed from before ``save()`` to its
arrival at the last of the 1000 sockets as in B1; the ladder stops at the first step whose p99 passes
100 ms (or whose saves arrive not at all within ``DRAIN_SECONDS``). A step counts only if the writer
kept at least 90 % of its rate: the writer is one thread making one HTTP save at a time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from bench.data import BigBoard
from bench.fanout import Trigger, next_marker
from bench.server import ServerProcess, rss_bytes
from bench.stats import Row, Sample, percentile
from bench.subscribers import Subscribers

IDLE_BOARD_RECORDS = 29
IDLE_SOCKETS = 5000
IDLE_STEPS = (1, 1000, 2500, IDLE_SOCKETS)
RATES = (5, 10, 15, 20, 30, 50, 100)
STEP_SECONDS = 3.0
DRAIN_SECONDS = 10.0
P99_LIMIT = 0.100
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

    @property
    def sustained(self) -> bool:
        """Every save arrived, p99 within the limit and the writer kept its pace."""
        return self.arrived == self.saves and self.p99 <= P99_LIMIT and self.achieved >= 0.9 * self.rate


def _step(subscribers: Subscribers, trigger: Trigger, rate: float) -> Step:
    count = max(10, math.ceil(rate * STEP_SECONDS))
    started_at: dict[int, float] = {}
    begin = last_start = time.monotonic()
    for i in range(count):
        pause = begin + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # pacing the writer to the rate, not waiting for an event
        last_start = time.monotonic()
        marker = next_marker()
        started_at[marker] = trigger(marker)
    achieved = (count - 1) / max(last_start - begin, 1e-9)
    deadline = time.monotonic() + DRAIN_SECONDS
    latencies: list[float] = []
    for marker, started in started_at.items():
        try:
            arrival = subscribers.arrival(marker, timeout=max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            latencies.append(math.inf)
            continue
        latencies.append(arrival.last - started)
    arrived = sum(1 for value in latencies if value != math.inf)
    return Step(rate, achieved, percentile(latencies, 99), percentile(latencies, 50), count, arrived)


def ladder(subscribers: Subscribers, trigger: Trigger) -> list[Step]:
    """(b): step the write rate up until p99 passes the limit."""
    steps: list[Step] = []
    for rate in RATES:
        step = _step(subscribers, trigger, rate)
        steps.append(step)
        print(
            f"B5 rate {rate}/s (achieved {step.achieved:.1f}): p99 {step.p99 * 1e3:.1f} ms, "
            f"{step.arrived}/{step.saves} arrived",
            flush=True,
        )
        if not step.sustained:
            break
    return steps


def rows(idle: Idle, ladders: list[list[Step]], subscribers: int) -> list[Row]:
    """The B5 rows: sockets held, memory per socket, sustained rate (median over the ladders)."""
    best = [max((s.rate for s in steps if s.sustained), default=0.0) for steps in ladders]
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
        Row(
            "B5",
            f"saves/s patched to {subscribers} subscribers with p99 <= 100 ms",
            "1/s",
            Sample.of(best),
            note=(
                f"highest step of {', '.join(map(str, RATES))} saves/s ({STEP_SECONDS:.0f} s each) whose p99 "
                f"(save to the last of {subscribers} sockets) stayed <= 100 ms; the writer, the server and "
                "the 1000 sockets share the machine's 2 CPUs"
            ),
            extra={
                "ladders": [[s.__dict__ for s in steps] for steps in ladders],
                "plot": {"figure": "b5_rate"},
            },
        ),
    ]
