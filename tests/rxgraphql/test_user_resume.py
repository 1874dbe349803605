"""A new subscriber's view of a channel with per-user records: a large anchor is cut off the event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from board.channels import BoardChannel

from rxgraphql import user_resume
from rxgraphql.offload import OFF_LOOP_RECORDS
from rxgraphql.stream import Snapshot

LAYERS = {layer.type_name: layer for layer in BoardChannel._meta.layers}


def _reminders(count: int) -> list[dict[str, Any]]:
    return [{"__typename": "Reminder", "id": i, "text": "t", "owner": i % 2} for i in range(count)]


@pytest.mark.parametrize(("count", "off_loop"), [(OFF_LOOP_RECORDS, True), (OFF_LOOP_RECORDS - 1, False)])
def test_a_large_anchor_is_cut_for_its_user_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch, count: int, off_loop: bool
) -> None:
    assert LAYERS["Reminder"].user_key == "owner"
    cut_on: list[threading.Thread] = []
    real = user_resume.visible_to

    def visible_to(*args: Any) -> Any:
        cut_on.append(threading.current_thread())
        return real(*args)

    monkeypatch.setattr(user_resume, "visible_to", visible_to)
    full = Snapshot("e", 3, True, _reminders(count), [])

    async def scenario() -> tuple[Snapshot, threading.Thread]:
        found = await user_resume.user_snapshot(full, "c", "1", None, "1", LAYERS)
        return found, threading.current_thread()

    found, loop_thread = asyncio.run(scenario())
    assert (cut_on[0] is not loop_thread) is off_loop
    assert [record["id"] for record in found.records] == list(range(1, count, 2))  # user 1's only
    assert (found.epoch, found.version, found.reset) == ("e", 3, True)
