"""Work sized by a snapshot: in a worker thread from ``OFF_LOOP_RECORDS`` records on, else on the loop."""

from __future__ import annotations

import asyncio
import threading

from rxgraphql.offload import OFF_LOOP_RECORDS, sized


def _where(size: int) -> tuple[threading.Thread, threading.Thread]:
    async def scenario() -> tuple[threading.Thread, threading.Thread]:
        loop_thread = threading.current_thread()
        return loop_thread, await sized(size, threading.current_thread)

    return asyncio.run(scenario())


def test_a_large_size_runs_in_a_worker_thread() -> None:
    loop_thread, ran_on = _where(OFF_LOOP_RECORDS)
    assert ran_on is not loop_thread


def test_a_small_size_runs_on_the_loop() -> None:
    loop_thread, ran_on = _where(OFF_LOOP_RECORDS - 1)
    assert ran_on is loop_thread


def test_arguments_and_result_pass_through() -> None:
    assert asyncio.run(sized(OFF_LOOP_RECORDS, divmod, 7, 2)) == (3, 1)
    assert asyncio.run(sized(0, divmod, 7, 2)) == (3, 1)
