"""PerLoop: one value per event loop, each closed on its own loop."""

from __future__ import annotations

import asyncio
import threading

from rxgraphql.backends.loops import PerLoop
from tests.support.aio import LoopThread
from tests.support.waiting import async_wait_until


class Client:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.closed_on: asyncio.AbstractEventLoop | None = None
        self.closed = threading.Event()

    async def close(self) -> None:
        self.closed_on = asyncio.get_running_loop()
        self.closed.set()


async def _get(clients: PerLoop[Client]) -> Client:
    return clients.get()


def _get_on(loop: asyncio.AbstractEventLoop, clients: PerLoop[Client]) -> Client:
    """The value of a loop that is not running, from a thread running no loop."""
    found: list[Client] = []
    thread = threading.Thread(target=lambda: found.append(loop.run_until_complete(_get(clients))))
    thread.start()
    thread.join()
    return found[0]


def test_one_value_per_loop_built_on_its_first_use() -> None:
    clients = PerLoop(Client)
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        a = first.run_until_complete(_get(clients))
        assert first.run_until_complete(_get(clients)) is a, "the same loop gets the same value"
        b = second.run_until_complete(_get(clients))
        assert b is not a
        assert b.loop is second
        assert clients.values() == [a, b]
    finally:
        first.close()
        second.close()
    assert clients.values() == [], "values of closed loops are not handed out"


def test_a_closed_loops_value_is_dropped_on_the_next_use() -> None:
    built: list[Client] = []

    def build(loop: asyncio.AbstractEventLoop) -> Client:
        built.append(Client(loop))
        return built[-1]

    clients = PerLoop(build)
    old = asyncio.new_event_loop()
    old.run_until_complete(_get(clients))
    old.close()
    new = asyncio.new_event_loop()
    try:
        value = new.run_until_complete(_get(clients))
    finally:
        new.close()
    assert value is built[1]
    assert value.loop is new
    assert len(built) == 2


async def test_close_closes_each_value_on_its_own_loop() -> None:
    clients = PerLoop(Client)
    here = clients.get()
    elsewhere = LoopThread()
    idle = asyncio.new_event_loop()
    gone = asyncio.new_event_loop()
    try:
        there = elsewhere.run(_get(clients))
        not_running = _get_on(idle, clients)
        dead = _get_on(gone, clients)
        gone.close()
        clients.close(Client.close)
        assert not_running.closed_on is idle, "a loop that is not running runs the closing here"
        assert there.closed.wait(10), "a loop running in another thread closes its own value"
        assert there.closed_on is elsewhere.loop

        async def closed_here() -> bool:
            return here.closed.is_set()

        await async_wait_until(closed_here, "the caller's own loop closes its value once the caller yields")
        assert here.closed_on is asyncio.get_running_loop()
        assert dead.closed_on is None, "a closed loop can run nothing: its value is only forgotten"
        assert clients.values() == []
    finally:
        elsewhere.close()
        idle.close()
