"""The pool of sync threads: one request holds at most half of it; results and errors reach the caller."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from schema_bridge.threads import FairPool, current_request


def test_a_request_beyond_its_share_waits_and_gets_its_results_and_errors() -> None:
    pool = FairPool(4)
    gate = threading.Event()
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    def work(number: int) -> int:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        gate.wait(10)
        with lock:
            running["now"] -= 1
        if number == 5:
            raise ValueError("five")
        return number * 10

    token = current_request.set(object())
    try:
        futures: list[Future[int]] = [pool.submit(work, n) for n in range(8)]
    finally:
        current_request.reset(token)
    # Calls of no request are not held back by the busy one.
    assert pool.submit(lambda: "free").result(5) == "free"
    gate.set()
    assert [f.result(5) for n, f in enumerate(futures) if n != 5] == [0, 10, 20, 30, 40, 60, 70]
    with pytest.raises(ValueError, match="five"):
        futures[5].result(5)
    assert running["most"] == 2
    assert pool.running == {}
    assert pool.waiting == {}
    pool.shutdown()
