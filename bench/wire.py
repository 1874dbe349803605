"""B2 (first full state, cold and hot, against a DRF view) and B3 (bytes of a one-field update).

Both run against one uvicorn worker in another process (``bench.server``), clients in this process.
Cold: no subscriber holds the anchor (``CACHE_TTL`` is 0), so the server renders it from the database.
Hot: another client keeps the anchor subscribed, so its flat records are cached. The time is from
sending ``subscribe`` on an open, authenticated socket to the parsed event with ``ready: true``; the
DRF time is from sending the request on a kept-alive connection to the parsed JSON body. During each cold
subscription the worker's lag probe (``bench.agent``) records the longest gap between its ticks: how long
heating the anchor froze the worker's other sockets.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from bench.data import BigBoard
from bench.server import ServerProcess
from bench.stats import Row, Sample
from bench.triggers import AgentClient
from bench.wsclient import BOARD_SUBSCRIPTION, SAVE_CARD, BenchClient

TIMEOUT = 300.0
B2_TIME_TARGETS = {("hot", 10_000): 0.2, ("cold", 10_000): 1.0}
HEAT_LAG_TARGET = 0.050


async def _first_state(server: ServerProcess, board: BigBoard) -> tuple[float, int, int]:
    client = await BenchClient(server.ws_url).connect(board.token)
    try:
        async with asyncio.timeout(TIMEOUT):
            started = time.perf_counter()
            op = await client.start(BOARD_SUBSCRIPTION, {"boardId": str(board.pk)})
            received = await client.read_until(op)
            elapsed = time.perf_counter() - started
        await client.stop(op)
    finally:
        await client.close()
    return elapsed, received.frame_bytes, received.records


def drf_state(server: ServerProcess, board: BigBoard, repeats: int) -> tuple[Sample, Sample]:
    """Time (s) and bytes of ``GET /bench/board/<pk>`` with the JSON parsed."""
    times: list[float] = []
    sizes: list[float] = []
    with httpx.Client(
        base_url=server.http_url, timeout=TIMEOUT, headers={"Authorization": f"Token {board.token}"}
    ) as http:
        http.get(f"/bench/board/{board.pk}").raise_for_status()  # connection and first-hit costs
        for _ in range(repeats):
            started = time.perf_counter()
            response = http.get(f"/bench/board/{board.pk}")
            json.loads(response.content)
            times.append(time.perf_counter() - started)
            response.raise_for_status()
            sizes.append(len(response.content))
    return Sample.of(times), Sample.of(sizes)


async def first_state(
    server: ServerProcess, board: BigBoard, repeats: int, lags: list[float]
) -> dict[str, tuple[Sample, Sample]]:
    """Cold and hot time (s) and bytes of the snapshot of ``board``; the lag of each cold one in ``lags``."""
    cold_t: list[float] = []
    cold_b: list[float] = []
    agent = AgentClient(server.agent_port)
    try:
        for _ in range(repeats):
            await asyncio.sleep(0.5)  # let the previous run's anchor expire (CACHE_TTL 0)
            await asyncio.to_thread(agent.lag_reset)
            elapsed, size, _records = await _first_state(server, board)
            lags.append(await asyncio.to_thread(agent.lag))
            cold_t.append(elapsed)
            cold_b.append(size)
    finally:
        agent.close()
    holder = await BenchClient(server.ws_url).connect(board.token)
    hot_t: list[float] = []
    hot_b: list[float] = []
    try:
        op = await holder.start(BOARD_SUBSCRIPTION, {"boardId": str(board.pk)})
        async with asyncio.timeout(TIMEOUT):
            await holder.read_until(op)
        for _ in range(repeats):
            elapsed, size, _records = await _first_state(server, board)
            hot_t.append(elapsed)
            hot_b.append(size)
    finally:
        await holder.close()
    return {"cold": (Sample.of(cold_t), Sample.of(cold_b)), "hot": (Sample.of(hot_t), Sample.of(hot_b))}


def b2_rows(server: ServerProcess, board: BigBoard, repeats: int) -> tuple[list[Row], Sample]:
    """The B2 rows of one board size; also returns the DRF body size (B3's comparison)."""
    drf_t, drf_b = drf_state(server, board, repeats)
    lags: list[float] = []
    ours = asyncio.run(first_state(server, board, repeats, lags))
    size = f"{_nominal(board.records) // 1000}k"
    rows: list[Row] = []
    for kind in ("cold", "hot"):
        t, b = ours[kind]
        target = B2_TIME_TARGETS.get((kind, _nominal(board.records)))
        rows.append(
            Row(
                "B2",
                f"first full state {size} records, {kind}: time",
                "s",
                t,
                "DRF view",
                drf_t,
                target=f"<= {target}x DRF" if target else "",
                target_ratio=target,
                extra={
                    "plot": {
                        "figure": "b2",
                        "series": f"rxgraphql, {kind}",
                        "comparison_series": "DRF view",
                        "x": board.records,
                    }
                },
            )
        )
        rows.append(Row("B2", f"first full state {size} records, {kind}: bytes", "B", b, "DRF view", drf_b))
    ten_k = _nominal(board.records) == 10_000
    rows.append(
        Row(
            "B2",
            f"event-loop lag while heating {size} records (cold subscription)",
            "s",
            Sample.of(lags),
            target=f"<= {HEAT_LAG_TARGET * 1e3:.0f} ms" if ten_k else "",
            target_max=HEAT_LAG_TARGET if ten_k else None,
            note="longest gap between ticks of a probe coroutine in the worker (5 ms apart), each cold run"
            if ten_k
            else "",
        )
    )
    return rows, drf_b


def _nominal(records: int) -> int:
    return min((1_000, 10_000, 50_000), key=lambda n: abs(n - records))


async def _update_bytes(server: ServerProcess, board: BigBoard, repeats: int) -> tuple[Sample, Sample]:
    watcher = await BenchClient(server.ws_url).connect(board.token)
    writer = await BenchClient(server.ws_url).connect(board.token)
    sizes: list[float] = []
    latencies: list[float] = []
    try:
        op = await watcher.start(BOARD_SUBSCRIPTION, {"boardId": str(board.pk)})
        async with asyncio.timeout(TIMEOUT):
            await watcher.read_until(op)
            for i in range(repeats):
                card = board.card_ids[(i * 7919) % len(board.card_ids)]
                started = time.perf_counter()
                result = await writer.execute(
                    SAVE_CARD, {"b": str(board.pk), "id": str(card), "data": {"title": f"Renamed {i}"}}
                )
                ok = result.events[0]
                if not ok["ok"]:
                    raise RuntimeError(f"save refused: {ok}")
                patch = await watcher.read_until(op)
                latencies.append(time.perf_counter() - started)
                sizes.append(patch.frame_bytes)
    finally:
        await watcher.close()
        await writer.close()
    return Sample.of(sizes), Sample.of(latencies)


def b3_row(server: ServerProcess, board: BigBoard, drf_bytes: Sample, repeats: int) -> Row:
    """Bytes of the patch of a one-field card update against the nested state (DRF body)."""
    sizes, latencies = asyncio.run(_update_bytes(server, board, repeats))
    ten_k = _nominal(board.records) == 10_000
    return Row(
        "B3",
        f"one-field update, {_nominal(board.records) // 1000}k records: bytes",
        "B",
        sizes,
        "nested state (DRF body)",
        drf_bytes,
        target="<= 1/100 of nested state" if ten_k else "",
        target_ratio=0.01 if ten_k else None,
        extra={"mutation_to_patch_seconds": latencies.__dict__},
    )
