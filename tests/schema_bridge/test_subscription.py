"""One lifecycle for both strategies: buffering until live, held patches of the anchor's own row, and a
list's records counted per anchor that holds them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from board.channels import BoardChannel, MyBoardsChannel
from django.contrib.auth.models import AnonymousUser

from rxgraphql import offload
from rxgraphql.conf import rx_settings
from rxgraphql.stream import Event, Notice, Patch
from schema_bridge.subscription import AnchorList, AnchorSink, SingleAnchor, Subscription, _touches
from tests.support.sockets import FakeSocket, make_operation

T = TypeVar("T")
BOARD = "subscription { boardChannel(boardId: 1) { cursor records { __typename } } }"
LIST = "subscription { myBoardsChannel { anchors records { __typename } deleted { type id } } }"


def _run(build: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(build())


def _patch(version: int, records: list[dict[str, Any]] | None = None, **kwargs: Any) -> Patch:
    return Patch(channel="c", anchor="1", epoch="e", version=version, records=records or [], **kwargs)


def _sink(subscription: Subscription, anchor: str) -> AnchorSink:
    sink = AnchorSink(subscription, anchor)
    subscription.sinks[anchor] = sink
    return sink


def test_a_sink_buffers_until_its_snapshot_is_sent_and_forwards_only_what_is_newer() -> None:
    socket = FakeSocket()

    async def scenario() -> None:
        single = SingleAnchor(make_operation(socket, BOARD), BoardChannel(AnonymousUser(), board_id=1), "1")
        sink = _sink(single, "1")
        sink.push_live('"p2"', _patch(2))
        sink.push_notice('"n"', Notice({"text": "hi"}))
        sink.push_live('"p3"', _patch(3))
        assert socket.frames == []
        single.go_live("e", 2)  # the snapshot was at version 2
        sink.push_live('"p3"', _patch(3))  # delivered twice: sent once

    _run(scenario)
    assert [message["payload"] for message in socket.messages()] == ["p3", "n"]


def test_a_patch_of_the_anchors_row_waits_for_the_permission_check() -> None:
    socket = FakeSocket()

    async def scenario() -> None:
        single = SingleAnchor(make_operation(socket, BOARD), BoardChannel(AnonymousUser(), board_id=1), "1")
        sink = _sink(single, "1")
        single.go_live("e", 1)
        sink.push_live('"card"', _patch(2, [{"__typename": "Card", "id": 4}]))
        sink.push_live('"board"', _patch(3, [{"__typename": "Board", "id": 1}]))
        sink.push_live('"after"', _patch(4))
        assert [m["payload"] for m in socket.messages()] == ["card"]
        assert single.guard.requested == 1
        single.release()  # the check has not passed yet: still held
        assert len(socket.frames) == 1
        single.guard.passed = single.guard.requested
        single.release()

    _run(scenario)
    assert [m["payload"] for m in socket.messages()] == ["card", "board", "after"]


def test_a_list_deletes_a_record_only_when_no_listed_anchor_holds_it_any_more() -> None:
    socket = FakeSocket()

    async def scenario() -> list[str]:
        listed = AnchorList(make_operation(socket, LIST), MyBoardsChannel(AnonymousUser()), "", ["1", "2"])
        first, second = _sink(listed, "1"), _sink(listed, "2")
        for sink in (first, second):
            sink.group = listed.own  # type: ignore[assignment]  # renders like the anchor's group
            listed._hold(sink.anchor, ("User", "9"))
            sink.go_live("e", 1)
        board = {"__typename": "BoardSummary", "id": 1, "title": "t", "owner": 9, "members": []}
        first.push_live('"as is"', _patch(2, [board], deleted=[("User", "9")]))  # board 2 still shows it
        first.push_live('"as is"', _patch(3, deleted=[("User", "9")]))  # nothing left to send
        second.push_live('"as is"', _patch(2, deleted=[("User", "9")]))
        return listed.anchors

    assert _run(scenario) == ["1", "2"]
    kept, deleted = socket.messages()
    assert kept["payload"] != "as is"  # rendered again, without the deletion; nothing else changed
    assert kept["payload"]["data"]["myBoardsChannel"]["deleted"] == []
    assert kept["payload"]["data"]["myBoardsChannel"]["records"] == [{"__typename": "BoardSummary"}]
    assert deleted["payload"] == "as is"


def _render_watching_the_loop(listed: AnchorList, loop: asyncio.AbstractEventLoop) -> list[bool]:
    """Make each render of the list's events wait until the loop has run a callback scheduled from it:
    True per event rendered while the loop kept running (in a thread), False when it waited in vain (the
    render held the loop itself; the wait's bound only ends that case)."""
    ran_meanwhile: list[bool] = []
    real = listed.own.render

    def render(event: Event) -> str:
        loop_ran = threading.Event()
        loop.call_soon_threadsafe(loop_ran.set)
        ran_meanwhile.append(loop_ran.wait(timeout=5))
        return real(event)

    listed.own.render = render  # type: ignore[method-assign]
    return ran_meanwhile


def test_the_loop_keeps_running_while_a_large_snapshot_renders() -> None:
    socket = FakeSocket()
    size = rx_settings().snapshot_batch_size
    records = [{"__typename": "BoardUser", "id": i} for i in range(2 * size)]

    async def scenario() -> list[bool]:
        listed = AnchorList(make_operation(socket, LIST), MyBoardsChannel(AnonymousUser()), "", [])
        ran_meanwhile = _render_watching_the_loop(listed, asyncio.get_running_loop())
        await listed._send_list(records, [], reset=True, runtime=False)
        return ran_meanwhile

    assert size >= offload.OFF_LOOP_RECORDS
    assert _run(scenario) == [True, True]
    sent = [message["payload"]["data"]["myBoardsChannel"]["records"] for message in socket.messages()]
    assert [len(batch) for batch in sent] == [size, size]  # in order, whole


def test_a_small_snapshot_renders_on_the_loop() -> None:
    socket = FakeSocket()
    rendered_on: list[threading.Thread] = []

    async def scenario() -> None:
        listed = AnchorList(make_operation(socket, LIST), MyBoardsChannel(AnonymousUser()), "", [])
        real = listed.own.render

        def render(event: Event) -> str:
            rendered_on.append(threading.current_thread())
            return real(event)

        listed.own.render = render  # type: ignore[method-assign]
        await listed._send_list([{"__typename": "BoardUser", "id": 1}], [], reset=True, runtime=False)

    _run(scenario)
    assert rendered_on == [threading.main_thread()]
    assert len(socket.frames) == 1


def test_whether_a_patch_names_the_anchor_row_is_answered_per_anchor() -> None:
    """The answer kept for the last patch is the answer for its anchor only."""
    patch = _patch(2, [{"__typename": "Board", "id": 1}])
    deleted = _patch(3, deleted=[("Board", "2")])
    assert _touches(patch, ("Board", "1"), "id")
    assert not _touches(patch, ("Board", "2"), "id")
    assert _touches(patch, ("Board", "1"), "id")
    assert _touches(deleted, ("Board", "2"), "id")
    assert not _touches(deleted, ("Board", "1"), "id")
