"""B6: the cost of ``save()`` with rxgraphql installed, in this process (embedded backends).

Each run saves ``SAVES`` cards one by one (autocommit, one title changed) and reports the mean time per
save; the figure includes waiting, after the last save, until rxgraphql's flusher thread has propagated
every change (``flusher.wait_idle``), so work handed to the background thread is counted. Modes:

- floor: rxgraphql's signal receivers disconnected (the same save with nothing of rxgraphql on its path);
- unwatched: receivers connected, no subscriber of the board;
- watched: one websocket subscriber of the board on a uvicorn server in a thread of this process;
- a model no channel shows (``auth.Group``), receivers connected, against the same save disconnected.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from bench.data import BigBoard
from bench.stats import Row, Sample
from bench.wsclient import BOARD_SUBSCRIPTION, BenchClient

SAVES = 200


def disconnect_receivers() -> None:
    """Disconnect rxgraphql's signal receivers (the floor of B6; the naive server of B1)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from rxgraphql.registry import registry

    for model in registry.by_model:
        uid = f"rxgraphql:{model._meta.label}"
        post_save.disconnect(sender=model, dispatch_uid=uid)
        post_delete.disconnect(sender=model, dispatch_uid=uid)
    m2m_changed.disconnect(dispatch_uid="rxgraphql:m2m")


def _connect() -> None:
    from rxgraphql.changes import connect_signals

    connect_signals()


def _card_saves(board: BigBoard) -> Callable[[], float]:
    from board.models import Card

    from rxgraphql.flusher import flusher

    cards = list(Card.objects.filter(pk__in=board.card_ids[:SAVES]))
    counter = iter(range(10**9))

    def run() -> float:
        started = time.perf_counter()
        for card in cards:
            card.title = f"Saved {next(counter)}"
            card.save(update_fields=["title"])
        flusher.wait_idle(60)
        return (time.perf_counter() - started) / len(cards)

    return run


def _group_saves() -> Callable[[], float]:
    from django.contrib.auth.models import Group

    groups = [Group.objects.create(name=f"bench-group-{i}") for i in range(SAVES)]
    counter = iter(range(10**9))

    def run() -> float:
        started = time.perf_counter()
        for group in groups:
            group.name = f"bench-group-{next(counter)}"
            group.save(update_fields=["name"])
        return (time.perf_counter() - started) / len(groups)

    return run


class _Watcher:
    """A uvicorn server in a thread of this process and one subscriber of the board on another loop."""

    def __init__(self, board: BigBoard) -> None:
        from rxgraphql.asgi import get_asgi_application
        from tests.support.live_server import LiveServer

        self.server = LiveServer(get_asgi_application()).start()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-watcher", daemon=True)
        self.thread.start()
        self.client = BenchClient(self.server.ws_url)
        self.stop_reading = asyncio.Event()
        self.board = board
        self._call(self._subscribe())

    def _call(self, coro: object) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)  # type: ignore[arg-type]

    async def _subscribe(self) -> None:
        await self.client.connect(self.board.token)
        self.op = await self.client.start(BOARD_SUBSCRIPTION, {"boardId": str(self.board.pk)})
        await self.client.read_until(self.op)
        self.reader = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while True:
            await self.client.read_until(self.op)

    async def _close(self) -> None:
        self.reader.cancel()
        await self.client.close()

    def close(self) -> None:
        self._call(self._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.server.stop()


def b6_rows(board: BigBoard, repeats: int) -> list[Row]:
    """Rows of B6 (see the module docstring)."""
    cards = _card_saves(board)
    groups = _group_saves()
    floor: list[float] = []
    unwatched: list[float] = []
    group_floor: list[float] = []
    group_on: list[float] = []
    cards()  # warm-up (flusher thread, query plans)
    for _ in range(repeats):
        disconnect_receivers()
        floor.append(cards())
        group_floor.append(groups())
        _connect()
        unwatched.append(cards())
        group_on.append(groups())
    watcher = _Watcher(board)
    watched: list[float] = []
    try:
        cards()
        for _ in range(repeats):
            watched.append(cards())
    finally:
        watcher.close()
    floor_s = Sample.of(floor)
    size = "1k-record board"
    return [
        Row(
            "B6",
            f"Card.save(), unwatched ({size})",
            "s/save",
            Sample.of(unwatched),
            "floor (receivers off)",
            floor_s,
            target="<= 1.2x floor",
            target_ratio=1.2,
        ),
        Row(
            "B6",
            f"Card.save(), watched by 1 subscriber ({size})",
            "s/save",
            Sample.of(watched),
            "floor (receivers off)",
            floor_s,
            note="includes propagation to the subscriber (flusher drained); no target",
        ),
        Row(
            "B6",
            "Group.save(), a model no channel shows",
            "s/save",
            Sample.of(group_on),
            "floor (receivers off)",
            Sample.of(group_floor),
        ),
    ]
