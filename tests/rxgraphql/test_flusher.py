"""The write path's hand-over: unwatched rows are dropped before the queue, and nothing is lost or raised
when the shared view cannot be read."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import pytest
from board.models import Card
from django.contrib.auth.models import Group

from rxgraphql import flusher as flusher_module
from rxgraphql.backends.base import BackendUnavailableError
from rxgraphql.flusher import Flusher


class _View:
    def __init__(self, active: Collection[str] = (), fail: bool = False) -> None:
        self.active = active
        self.fail = fail

    def active_anchors(self, channel: str) -> Collection[str]:
        if self.fail:
            raise BackendUnavailableError("Connection refused")
        return self.active


def _queued(monkeypatch: pytest.MonkeyPatch, view: _View, rows: list[tuple[Any, str]]) -> list[Any]:
    worker = Flusher()
    monkeypatch.setattr(worker, "_ensure_thread", lambda: None)
    monkeypatch.setattr(flusher_module, "get_cache", lambda: view)
    worker.submit(rows)
    queued = [worker._queue.get_nowait() for _ in range(worker._queue.qsize())]
    return [batch for batch, _fields in queued]  # type: ignore[misc]


def test_rows_no_active_anchor_needs_are_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _queued(monkeypatch, _View(), [(Card, "1"), (Group, "2")]) == []


def test_rows_of_a_watched_channel_are_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _queued(monkeypatch, _View(active=["7"]), [(Card, "1")]) == [[(Card, "1")]]


def test_an_unreadable_view_queues_everything_instead_of_failing_the_save(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _queued(monkeypatch, _View(fail=True), [(Card, "1")]) == [[(Card, "1")]]
