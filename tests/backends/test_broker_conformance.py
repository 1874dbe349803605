"""One conformance suite for the Broker protocol, run on the embedded and on the Redis broker."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rxgraphql.backends.base import Broker

pytestmark = pytest.mark.timeout(60)


class Box(list[bytes]):
    """A subscriber callback that collects messages and lets a test await them."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = asyncio.Event()

    def append(self, data: bytes) -> None:
        super().append(data)
        self.arrived.set()


async def received(box: Box, count: int, within: float = 5.0) -> list[bytes]:
    """The messages once ``count`` have arrived (fails after ``within`` seconds)."""
    async with asyncio.timeout(within):
        while len(box) < count:
            box.arrived.clear()
            await box.arrived.wait()
    return list(box)


async def test_messages_reach_every_subscriber_of_the_topic(broker: Broker) -> None:
    first, second, other = Box(), Box(), Box()
    stop_first = await broker.subscribe("rx:c:1", first.append)
    stop_second = await broker.subscribe("rx:c:1", second.append)
    stop_other = await broker.subscribe("rx:c:2", other.append)
    # The write path publishes from the flusher thread.
    thread = threading.Thread(target=broker.publish, args=("rx:c:1", b"one"))
    thread.start()
    thread.join()
    assert await received(first, 1) == [b"one"]
    assert await received(second, 1) == [b"one"]
    stop_first()
    await asyncio.sleep(0.05)
    broker.publish("rx:c:1", b"two")
    assert await received(second, 2) == [b"one", b"two"]
    await asyncio.sleep(0.05)
    assert first == [b"one"], "an unsubscribed callback gets nothing more"
    assert other == []
    stop_second()
    stop_other()


async def test_a_resubscription_right_after_the_last_unsubscribe(broker: Broker) -> None:
    box = Box()
    stop = await broker.subscribe("rx:c:3", box.append)
    stop()
    stop = await broker.subscribe("rx:c:3", box.append)
    broker.publish("rx:c:3", b"x")
    assert await received(box, 1) == [b"x"]
    stop()
