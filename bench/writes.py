"""B6: the cost of ``save()`` with rxgraphql installed, in one process (embedded backends), per capture mode.

One process per capture mode (``python -m bench.writes MODE BOARD.json OUT.json``, with
``RXGRAPHQL_BENCH_CAPTURE=MODE`` so that ``RXGRAPHQL["CAPTURE"]`` is set from the start). Each run saves
``SAVES`` cards one by one from the main thread (autocommit, one title changed, outside any request) and
reports the mean time per save; the figure includes waiting, after the last save, until every change is
propagated (``rxgraphql.wait_propagated``: the flusher thread with signals, the outbox propagator thread
with triggers), so work handed to a background thread is counted. Figures:

- floor: rxgraphql's signal receivers disconnected and its capture triggers dropped (the same save with
  nothing of rxgraphql's on its path);
- unwatched: receivers connected, no subscriber of the board;
- watched: one websocket subscriber of the board on a uvicorn server in a thread of this process;
- a model no channel shows (``auth.Group``), receivers connected, against the same save disconnected.

``RXGRAPHQL["CAPTURE"]`` ("auto", "triggers", "signals") is read by ``rxgraphql.capture``; an rxgraphql
without that module ignores the setting and captures by signals only, so the "triggers" rows are then not
measured (a figure would be the signals one) and the notes say so. With "triggers" the process runs the
outbox propagator, as an ASGI worker does.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.data import BigBoard
from bench.stats import Row, Sample
from bench.wsclient import BOARD_SUBSCRIPTION, BenchClient

SAVES = 200
MODES = ("signals", "triggers")


def capture_module_installed() -> bool:
    """Whether the installed rxgraphql reads ``RXGRAPHQL["CAPTURE"]`` (has ``rxgraphql.capture``)."""
    return importlib.util.find_spec("rxgraphql.capture") is not None


def disconnect_receivers() -> None:
    """Disconnect rxgraphql's signal receivers (the floor of B6; the naive server of B1)."""
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from rxgraphql.registry import registry

    for model in registry.by_model:
        uid = f"rxgraphql:{model._meta.label}"
        post_save.disconnect(sender=model, dispatch_uid=uid)
        post_delete.disconnect(sender=model, dispatch_uid=uid)
    m2m_changed.disconnect(dispatch_uid="rxgraphql:m2m")


def _drop_capture_triggers() -> None:
    """The tables without rxgraphql's capture triggers: the floor, and the whole process with signals
    (the bench database was migrated with triggers); ``_connect`` and ``main`` restore them."""
    if not capture_module_installed():
        return
    from django.db import connection

    from rxgraphql.capture import triggers

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in triggers.wanted_triggers():
            cursor.execute(f"DROP TRIGGER IF EXISTS {triggers.TRIGGER} ON {connection.ops.quote_name(table)}")


def _connect() -> None:
    from rxgraphql.changes import connect_signals

    connect_signals()
    if capture_module_installed():
        from rxgraphql.capture import triggers, uses_triggers

        if uses_triggers():
            triggers.sync()


def _wait_propagated(timeout: float) -> None:
    if capture_module_installed():
        from rxgraphql.capture import wait_propagated

        wait_propagated(timeout)
    else:
        from rxgraphql.flusher import flusher

        flusher.wait_idle(timeout)


def _card_saves(board: BigBoard) -> Callable[[], float]:
    from board.models import Card

    cards = list(Card.objects.filter(pk__in=board.card_ids[:SAVES]))
    counter = iter(range(10**9))

    def run() -> float:
        started = time.perf_counter()
        for card in cards:
            card.title = f"Saved {next(counter)}"
            card.save(update_fields=["title"])
        _wait_propagated(60)
        return (time.perf_counter() - started) / len(cards)

    return run


def _group_saves() -> Callable[[], float]:
    from django.contrib.auth.models import Group

    tag = f"bench-group-{os.getpid()}"
    groups = [Group.objects.create(name=f"{tag}-{i}") for i in range(SAVES)]
    counter = iter(range(10**9))

    def run() -> float:
        started = time.perf_counter()
        for group in groups:
            group.name = f"{tag}-{next(counter)}"
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


def measure_mode(board: BigBoard, repeats: int) -> dict[str, list[float]]:
    """Every figure of the module docstring in this process, ``repeats`` runs each (s per save)."""
    cards = _card_saves(board)
    groups = _group_saves()
    figures: dict[str, list[float]] = {
        "floor": [],
        "unwatched": [],
        "group_floor": [],
        "group": [],
        "watched": [],
    }
    cards()  # warm-up (flusher thread, query plans)
    for _ in range(repeats):
        disconnect_receivers()
        _drop_capture_triggers()
        figures["floor"].append(cards())
        figures["group_floor"].append(groups())
        _connect()
        figures["unwatched"].append(cards())
        figures["group"].append(groups())
    watcher = _Watcher(board)
    try:
        cards()
        for _ in range(repeats):
            figures["watched"].append(cards())
    finally:
        watcher.close()
    return figures


def _run_mode(mode: str, board: BigBoard, repeats: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="rxgraphql-bench-b6-") as folder:
        board_file, out_file = Path(folder) / "board.json", Path(folder) / "out.json"
        board_file.write_text(json.dumps(asdict(board)))
        subprocess.run(
            [sys.executable, "-m", "bench.writes", mode, str(board_file), str(out_file), str(repeats)],
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "RXGRAPHQL_BENCH_CAPTURE": mode},
            timeout=600,
        )
        figures: dict[str, list[float]] = json.loads(out_file.read_text())
        return figures


def b6_rows(board: BigBoard, repeats: int) -> list[Row]:
    """Rows of B6 for every capture mode (see the module docstring)."""
    installed = capture_module_installed()
    ignored = (
        "the installed rxgraphql has no rxgraphql.capture module: RXGRAPHQL['CAPTURE'] is ignored and "
        "saves are captured by signals"
    )
    size = "1k-record board"
    rows: list[Row] = []
    for mode in MODES:
        figures: dict[str, list[float]] | None = None
        note = ""
        if mode == "triggers" and not installed:
            note = f"not measured: {ignored}, so a 'triggers' figure would be the signals one"
        else:
            figures = _run_mode(mode, board, repeats)
            note = "" if installed else ignored

        def sample(name: str, figures: dict[str, list[float]] | None = figures) -> Sample | None:
            return Sample.of(figures[name]) if figures else None

        label = f'CAPTURE="{mode}"'
        rows += [
            Row(
                "B6",
                f"Card.save(), unwatched, {label} ({size})",
                "s/save",
                sample("unwatched"),
                "plain save (receivers off)",
                sample("floor"),
                target="<= 1.2x plain save",
                target_ratio=1.2,
                note=note,
            ),
            Row(
                "B6",
                f"Card.save(), watched by 1 subscriber, {label} ({size})",
                "s/save",
                sample("watched"),
                "plain save (receivers off)",
                sample("floor"),
                target="<= 2x plain save",
                target_ratio=2.0,
                note="includes propagation to the subscriber (every change propagated)" if figures else "",
            ),
        ]
        if mode == "signals":
            rows.append(
                Row(
                    "B6",
                    f"Group.save(), a model no channel shows, {label}",
                    "s/save",
                    sample("group"),
                    "plain save (receivers off)",
                    sample("group_floor"),
                )
            )
    return rows


def main() -> None:
    """``python -m bench.writes MODE BOARD.json OUT.json REPEATS``: one capture mode's figures as JSON."""
    _mode, board_file, out_file, repeats = sys.argv[1:5]
    for entry in (
        str(Path(__file__).resolve().parent.parent),
        str(Path(__file__).resolve().parent.parent / "example"),
    ):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    triggered = False
    if capture_module_installed():
        from rxgraphql.capture import start_capture, uses_triggers

        triggered = uses_triggers()
        start_capture()  # with triggers, this process propagates the outbox, as an ASGI worker does
        if not triggered:
            _drop_capture_triggers()
    board = BigBoard(**json.loads(Path(board_file).read_text()))
    figures: dict[str, Any] = measure_mode(board, int(repeats))
    if capture_module_installed() and not triggered:
        from rxgraphql.capture import triggers

        triggers.sync()
    from django.db import connections

    connections.close_all()
    Path(out_file).write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
