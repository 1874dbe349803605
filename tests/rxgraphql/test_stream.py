"""The stream's vocabulary: cursors, topics, record keys, events and their batching, the broker messages."""

from __future__ import annotations

from rxgraphql.stream import (
    SYSTEM_TOPIC,
    Event,
    Notice,
    Patch,
    Snapshot,
    anchor_topic,
    format_cursor,
    key_text,
    membership_topic,
    parse_cursor,
    transaction,
)


def test_a_cursor_reads_back_as_it_was_written() -> None:
    assert parse_cursor(format_cursor("ep.och", 12)) == ("ep.och", 12)
    assert Snapshot("e", 3, False, [], []).cursor == "e.3"


def test_a_malformed_cursor_asks_for_a_full_snapshot() -> None:
    for cursor in (None, "", "12", ".4", "e.", "e.x", "e.-1"):
        assert parse_cursor(cursor) is None, cursor


def test_topics_and_record_keys_are_spelled_in_one_place() -> None:
    assert anchor_topic("board.BoardChannel", "7") == "rx:board.BoardChannel:7"
    assert membership_topic("board.MyBoards") == "rx:anchors:board.MyBoards"
    assert len({anchor_topic("c", "anchors"), membership_topic("c"), SYSTEM_TOPIC}) == 3
    assert key_text(("Reminder", "3")) == "Reminder:3"


def test_an_event_root_leaves_out_what_is_not_set() -> None:
    root = Event(cursor="e.1", deleted=[("Card", "2")]).root()
    assert root == {
        "cursor": "e.1",
        "reset": False,
        "ready": True,
        "records": [],
        "deleted": [{"type": "Card", "id": "2"}],
        "notifications": [],
    }
    full = Event(anchors=["1"], runtime={"typing": []}).root()
    assert (full["anchors"], full["runtime"]) == (["1"], {"typing": []})


def test_a_transaction_is_cut_in_batches_reset_first_and_cursor_last() -> None:
    records = [{"__typename": "Card", "id": n} for n in range(5)]
    events = transaction(records=records, deleted=[("Card", "9")], cursor="e.4", reset=True, size=2)
    assert [len(event.records) for event in events] == [2, 2, 1]
    assert [(e.reset, e.ready, e.cursor, e.deleted) for e in events] == [
        (True, False, "", [("Card", "9")]),
        (False, False, "", []),
        (False, True, "e.4", []),
    ]
    (only,) = transaction(records=[], deleted=[], cursor="e.5", reset=False, size=2)
    assert (only.ready, only.cursor, only.records) == (True, "e.5", [])


def test_a_patch_crosses_the_broker_unchanged() -> None:
    patch = Patch(
        channel="c",
        anchor="1",
        epoch="e",
        version=3,
        records=[{"__typename": "Card", "id": 1}],
        deleted=[("Card", "2")],
        reset=True,
        owners={"Reminder:1": "2"},
        previous_owners={"Reminder:4": "1"},
    )
    assert Patch.decode(patch.encode()) == patch
    assert b'"o"' not in Patch(channel="c", anchor="1", epoch="e", version=1).encode()


def test_a_notice_is_told_apart_from_a_patch() -> None:
    notice = Notice({"text": "hi"}, user="3")
    assert Notice.decode(notice.encode()) == notice
    assert Notice.decode(Patch(channel="c", anchor="1", epoch="e", version=1).encode()) is None
