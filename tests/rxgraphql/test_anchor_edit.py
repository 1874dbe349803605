"""The anchor edit against the in-memory edit, with no database: rows and records are made by hand.

Board 1 of these tests holds columns 10 and 11; column 10 lists cards 100 and 101; card 100 has
comment 1000. ``Now`` plays the database after a change: what each key renders to, and which keys the
edit asked it to render.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from board.channels import BoardChannel
from board.models import Card, Column, Comment
from django.db import models

from rxgraphql.anchor_edit import Changes, changes_of, edit_anchor
from rxgraphql.backends.base import Patch
from rxgraphql.backends.memory import MemoryRecordCache
from rxgraphql.layers import Layer
from rxgraphql.records import Record, RecordKey

CHANNEL = BoardChannel._meta.channel_name
LAYERS = {layer.type_name: layer for layer in BoardChannel._meta.layers}

BOARD: RecordKey = ("Board", "1")
TODO: RecordKey = ("Column", "10")
DONE: RecordKey = ("Column", "11")
CARD: RecordKey = ("Card", "100")
OTHER_CARD: RecordKey = ("Card", "101")
COMMENT: RecordKey = ("Comment", "1000")


def rec(key: RecordKey, **fields: Any) -> Record:
    return {"__typename": key[0], "id": int(key[1]), **fields}


def card(pk: str, column: str, title: str = "a card", comments: Iterable[int] = ()) -> tuple[Any, Record]:
    row = Card(id=int(pk), column_id=int(column), title=title, position=int(pk))
    return row, rec(("Card", pk), title=title, column=int(column), comments=list(comments), comment_count=0)


def column(pk: str, cards: Iterable[int]) -> tuple[Any, Record]:
    return Column(id=int(pk), board_id=1, title="c", position=0), rec(("Column", pk), cards=list(cards))


def comment(pk: str, card_pk: str, text: str = "hi") -> tuple[Any, Record]:
    row = Comment(id=int(pk), card_id=int(card_pk), author_id=1, text=text)
    return row, rec(("Comment", pk), text=text)


START: dict[RecordKey, tuple[Any, Record]] = {
    BOARD: (None, rec(BOARD, title="b", columns=[10, 11])),
    TODO: column("10", [100, 101]),
    DONE: column("11", []),
    CARD: card("100", "10", comments=[1000]),
    OTHER_CARD: card("101", "10"),
    COMMENT: comment("1000", "100"),
}


class Now:
    """The database after the change (a key absent: its row is gone); remembers what was rendered."""

    def __init__(
        self,
        changed: Mapping[RecordKey, tuple[Any, Record] | None],
        partial: Mapping[RecordKey, Record] | None = None,
    ) -> None:
        self.layers: Mapping[str, Layer] = LAYERS
        self.state = {**START, **changed}
        self.rendered: list[RecordKey] = []
        #: Changed keys rendered only in the fields their change can alter, and those keys rendered whole.
        self.partial = dict(partial or {})
        self.whole: list[RecordKey] = []

    def load_changed(self, fields: Mapping[RecordKey, frozenset[str] | None]) -> None:
        self.load(fields)

    def load(self, keys: Iterable[RecordKey]) -> None:
        for key in keys:
            if key not in self.rendered:
                self.rendered.append(key)

    def get(self, key: RecordKey, held: Record | None = None) -> Record | None:
        self.load([key])
        if key in self.partial and held is not None:
            return {**held, **self.partial[key]}
        self.whole.append(key)
        found = self.state.get(key)
        return None if found is None else found[1]

    def row(self, key: RecordKey) -> models.Model | None:
        found = self.state.get(key)
        return None if found is None else found[0]


@pytest.fixture
def cache() -> MemoryRecordCache:
    cache = MemoryRecordCache()

    async def heat() -> None:
        assert await cache.begin_heat(CHANNEL, "1")
        tree = []
        for key, (_, record) in START.items():
            refs = [("Column", str(pk)) for pk in record.get("columns", ())]
            refs += [("Card", str(pk)) for pk in record.get("cards", ())]
            refs += [("Comment", str(pk)) for pk in record.get("comments", ())]
            tree.append((key, record, refs))
        await cache.finish_heat(CHANNEL, "1", BOARD, tree)

    asyncio.run(heat())
    return cache


def edit(
    cache: MemoryRecordCache,
    changed: Mapping[RecordKey, tuple[Any, Record] | None],
    fields: Mapping[RecordKey, frozenset[str] | None],
    partial: Mapping[RecordKey, Record] | None = None,
) -> tuple[Patch | None, Now]:
    now = Now(changed, partial)
    with cache.edit(CHANNEL, "1") as anchor:
        assert anchor is not None
        edit_anchor(anchor, changes_of(now, fields))
        return anchor.commit(), now


def held(cache: MemoryRecordCache) -> dict[RecordKey, Record]:
    return dict(cache._anchors[(CHANNEL, "1")].records)


def keys(records: Iterable[Record]) -> set[RecordKey]:
    return {(r["__typename"], str(r["id"])) for r in records}


def test_a_title_edit_re_renders_the_card_alone(cache: MemoryRecordCache) -> None:
    patch, now = edit(cache, {CARD: card("100", "10", "renamed", [1000])}, {CARD: frozenset({"title"})})
    assert now.rendered == [CARD], "its column keeps its list: not rendered"
    assert patch is not None
    assert patch.records == [now.get(CARD)]
    assert patch.deleted == []
    assert held(cache)[CARD]["title"] == "renamed"


def test_a_save_of_unknown_fields_lists_the_parent_again(cache: MemoryRecordCache) -> None:
    patch, now = edit(cache, {CARD: card("100", "10", "renamed", [1000])}, {CARD: None})
    assert set(now.rendered) == {CARD, TODO}
    assert patch is not None
    assert keys(patch.records) == {CARD}, "the column rendered as cached: not in the patch"


def test_an_unchanged_render_makes_no_patch(cache: MemoryRecordCache) -> None:
    patch, _ = edit(cache, {}, {CARD: frozenset({"title"})})
    assert patch is None


def test_a_card_moved_to_another_column_re_lists_both(cache: MemoryRecordCache) -> None:
    changed = {
        OTHER_CARD: card("101", "11"),
        TODO: column("10", [100]),
        DONE: column("11", [101]),
    }
    patch, now = edit(cache, changed, {OTHER_CARD: frozenset({"column"})})
    assert set(now.rendered) == {OTHER_CARD, TODO, DONE}
    assert patch is not None
    assert keys(patch.records) == {OTHER_CARD, TODO, DONE}
    assert patch.deleted == [], "still referenced, by its new column"
    assert held(cache)[DONE]["cards"] == [101]
    assert cache.anchors_containing(CHANNEL, [OTHER_CARD]) == {OTHER_CARD: {"1"}}


def test_a_deleted_card_leaves_its_list_and_takes_its_comments(cache: MemoryRecordCache) -> None:
    patch, _ = edit(cache, {CARD: None, TODO: column("10", [101])}, {CARD: frozenset({"title"})})
    assert patch is not None
    assert keys(patch.records) == {TODO}
    assert set(patch.deleted) == {CARD, COMMENT}
    assert set(held(cache)) == set(START) - {CARD, COMMENT}


def test_a_new_card_comes_with_its_subtree(cache: MemoryRecordCache) -> None:
    new_card: RecordKey = ("Card", "102")
    new_comment: RecordKey = ("Comment", "1001")
    changed = {
        new_card: card("102", "11", comments=[1001]),
        new_comment: comment("1001", "102"),
        DONE: column("11", [102]),
    }
    patch, now = edit(cache, changed, {new_card: None})
    assert patch is not None
    assert keys(patch.records) == {DONE, new_card, new_comment}
    assert now.rendered == [new_card, DONE, new_comment], "the parent its foreign key names, then its list"


def test_a_parent_with_a_method_field_is_re_rendered_whenever_a_child_changes(
    cache: MemoryRecordCache,
) -> None:
    counted = card("100", "10", comments=[1000])
    counted[1]["comment_count"] = 1
    changed = {COMMENT: comment("1000", "100", "edited"), CARD: counted}
    patch, now = edit(cache, changed, {COMMENT: frozenset({"text"})})
    assert set(now.rendered) == {COMMENT, CARD}, "comment_count may read anything"
    assert patch is not None
    assert keys(patch.records) == {COMMENT, CARD}


def test_a_row_no_anchor_record_refers_to_changes_nothing(cache: MemoryRecordCache) -> None:
    stray: RecordKey = ("Card", "200")
    patch, now = edit(cache, {stray: card("200", "99")}, {stray: None})
    assert patch is None
    assert now.rendered == [stray]


def test_changes_name_the_parents_the_rows_point_at() -> None:
    now = Now({OTHER_CARD: card("101", "11"), CARD: None})
    changes = changes_of(now, {OTHER_CARD: None, CARD: frozenset({"title"})})
    assert changes.new_parents == {OTHER_CARD: frozenset({DONE})}, "a gone row points nowhere"
    assert changes.candidates() == {OTHER_CARD, CARD, DONE}
    assert isinstance(changes, Changes)
    assert set(now.rendered) == {OTHER_CARD, CARD}


def test_a_record_rendered_in_part_is_completed_with_the_one_the_anchor_holds(
    cache: MemoryRecordCache,
) -> None:
    # The whole render would differ (no comments): a part-render must keep the held lists.
    row, whole = card("100", "10", title="renamed")
    patch, now = edit(cache, {CARD: (row, whole)}, {CARD: frozenset({"title"})}, {CARD: {"title": "renamed"}})
    assert patch is not None
    assert patch.records == [{**START[CARD][1], "title": "renamed"}]
    assert now.whole == []


def test_a_changed_record_also_re_listed_as_a_parent_is_rendered_whole(cache: MemoryRecordCache) -> None:
    # Card 100 was renamed and lost its comment in one batch: its comments list comes from a whole render.
    row, whole = card("100", "10", title="renamed")
    patch, now = edit(
        cache,
        {CARD: (row, whole), COMMENT: None},
        {CARD: frozenset({"title"}), COMMENT: None},
        {CARD: {"title": "renamed"}},
    )
    assert patch is not None
    assert CARD in now.whole
    assert held(cache)[CARD] == whole
    assert COMMENT not in held(cache)
