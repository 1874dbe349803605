"""A write's result carries the position of its commit in the anchor's stream (``cursor``)."""

from __future__ import annotations

from collections.abc import Callable

from board.models import Card

from rxgraphql.stream import parse_cursor
from tests.support.live import Event, LiveClient, find_record
from tests.support.world import BoardWorld

ClientFactory = Callable[[], LiveClient]
SAVE = (
    "mutation($b: ID!, $id: ID!, $title: String) "
    "{ boardChannelSaveCard(boardId: $b, id: $id, data: {title: $title}) { ok cursor } }"
)


def _position(cursor: str) -> tuple[str, int]:
    parsed = parse_cursor(cursor)
    assert parsed is not None, cursor
    return parsed


def test_the_stream_holds_the_write_at_the_cursor_its_result_gives(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    card = Card.objects.get(title="Ship")
    client = ws_client().connect(world.token(world.alice))
    watcher = client.watch_board(world.board_a.pk)
    watcher.ready()
    for n in range(3):
        title = f"renamed {n}"
        payload = client.execute(SAVE, {"b": str(world.board_a.pk), "id": str(card.pk), "title": title})
        result = payload["data"]["boardChannelSaveCard"]
        assert result["ok"] is True
        epoch, version = _position(result["cursor"])

        def reached(event: Event, epoch: str = epoch, version: int = version) -> bool:
            return event["cursor"] != "" and _position(event["cursor"]) >= (epoch, version)

        events = watcher.until(reached)
        # the event at the position is the first one holding the write: none before it did
        assert events[-1]["cursor"] == result["cursor"]
        echoed = [e for e in events if (r := find_record(e, "Card", card.pk)) and r["title"] == title]
        assert echoed == [events[-1]]
        tree = watcher.tree()
        titles = [c["title"] for column in tree["columns"] for c in column["cards"]]
        assert title in titles


def test_a_refused_write_has_no_position(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    card = Card.objects.get(title="Ship")
    client = ws_client().connect(world.token(world.carol))  # not a member of the board
    payload = client.execute(SAVE, {"b": str(world.board_a.pk), "id": str(card.pk), "title": "x"})
    result = payload["data"]["boardChannelSaveCard"]
    assert result == {"ok": False, "cursor": None}


async def test_without_a_feed_of_the_anchor_in_this_process_there_is_no_position() -> None:
    from board.channels import BoardChannel

    from schema_bridge.commit_position import commit_position

    assert await commit_position(BoardChannel, "no-such-anchor") is None
