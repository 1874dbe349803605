"""Propagation: which records a change re-renders, and that the anchor then matches the serializer.

Each test heats board A into its own embedded cache, changes rows, calls ``propagate`` with or without
the changed fields, and checks the renders (which rows were read for which layer) and the patch.
"""

from __future__ import annotations

import asyncio
import gc
from collections import defaultdict
from collections.abc import Callable, Collection
from typing import Any

import orjson
import pytest
from board.channels import BoardChannel
from board.models import Card, Column, Comment, Label
from board.serializers import BoardSerializer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rxgraphql import propagate as propagate_module
from rxgraphql import records
from rxgraphql.backends.base import Patch
from rxgraphql.backends.memory import MemoryBroker, MemoryRecordCache
from rxgraphql.propagate import heat_records, propagate
from rxgraphql.records import Record, RecordKey
from tests.support.world import BoardWorld, make_board_world


class _Published(MemoryBroker):
    """A broker keeping what is published (no subscriber needed)."""

    def __init__(self) -> None:
        super().__init__()
        self.patches: list[Patch] = []

    def publish(self, topic: str, data: bytes) -> None:
        self.patches.append(Patch.decode(data))


class _Board:
    """Board A heated into a cache of its own, and the rows each propagation read per layer."""

    def __init__(self, world: BoardWorld, monkeypatch: pytest.MonkeyPatch) -> None:
        self.world = world
        self.cache = MemoryRecordCache()
        self.broker = _Published()
        self.anchor = str(world.board_a.pk)
        self.reads: dict[str, list[str]] = defaultdict(list)
        name = BoardChannel._meta.channel_name

        heated = heat_records(BoardChannel, self.anchor)
        assert heated is not None

        async def heat() -> None:
            assert await self.cache.begin_heat(name, self.anchor)
            await self.cache.finish_heat(name, self.anchor, *heated)

        asyncio.run(heat())
        real = propagate_module.fetch_records

        def counting(layer: Any, pks: Collection[str]) -> Any:
            self.reads[layer.type_name].extend(pks)
            return real(layer, pks)

        monkeypatch.setattr(propagate_module, "fetch_records", counting)
        real_fields = propagate_module.fetch_fields

        def counting_fields(layer: Any, wanted: dict[str, Collection[str]]) -> Any:
            for pk, names in wanted.items():
                self.reads[layer.type_name].append(pk)
                self.part_reads.append((layer.type_name, pk, sorted(names)))
            return real_fields(layer, wanted)

        monkeypatch.setattr(propagate_module, "fetch_fields", counting_fields)
        #: The rows read alone, with the fields of their records rendered.
        self.part_reads: list[tuple[str, str, list[str]]] = []

    def propagate(self, rows: list[tuple[Any, str]], fields: dict[Any, Any] | None = None) -> Patch:
        self.reads.clear()
        self.part_reads.clear()
        self.broker.patches.clear()
        assert propagate(rows, self.cache, self.broker, fields) == 1
        return self.broker.patches[0]

    def propagate_carried(
        self, rows: list[tuple[Any, str]], fields: dict[Any, Any], carried: dict[Any, Any]
    ) -> Patch:
        self.reads.clear()
        self.part_reads.clear()
        self.broker.patches.clear()
        assert propagate(rows, self.cache, self.broker, fields, carried) == 1
        return self.broker.patches[0]

    def propagate_unchanged(self, rows: list[tuple[Any, str]], fields: dict[Any, Any] | None = None) -> None:
        """Propagate rows whose records render as cached: no patch."""
        self.reads.clear()
        assert propagate(rows, self.cache, self.broker, fields) == 0

    def records(self) -> dict[RecordKey, Record]:
        anchor = self.cache._anchors[(BoardChannel._meta.channel_name, self.anchor)]
        return dict(anchor.records)

    def column_cards(self) -> dict[str, list[int]]:
        return {
            pk: record["cards"] for (type_name, pk), record in self.records().items() if type_name == "Column"
        }


def _types(patch: Patch) -> list[str]:
    return sorted(record["__typename"] for record in patch.records)


def _expected_column_cards(board_pk: int) -> dict[str, list[int]]:
    from board.models import Board

    data = BoardSerializer(Board.objects.get(pk=board_pk)).data
    return {str(column["id"]): [card["id"] for card in column["cards"]] for column in data["columns"]}


@pytest.fixture
def board(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> _Board:
    return _Board(make_board_world(), monkeypatch)


def _card(title: str) -> Card:
    return Card.objects.get(title=title)


Save = Callable[[Card], None]


def test_a_title_edit_re_renders_no_parent(board: _Board) -> None:
    card = _card("Write spec")
    card.title = "Write the spec"
    card.save(update_fields=["title"])
    with CaptureQueriesContext(connection) as queries:
        patch = board.propagate([(Card, str(card.pk))], {(Card, str(card.pk)): ["title"]})
    assert _types(patch) == ["Card"]
    assert patch.records[0]["title"] == "Write the spec"
    assert dict(board.reads) == {"Card": [str(card.pk)]}
    assert not any("board_column" in query["sql"] for query in queries.captured_queries)


def test_a_title_edit_reads_the_row_and_renders_what_the_title_can_alter(board: _Board) -> None:
    card = _card("Write spec")
    card.title = "Write the spec"
    card.save(update_fields=["title"])
    before = board.records()[("Card", str(card.pk))]
    with CaptureQueriesContext(connection) as queries:
        patch = board.propagate([(Card, str(card.pk))], {(Card, str(card.pk)): ["title"]})
    # The title alone (comment_count declares it reads the comments); the lists stay as the anchor holds
    # them.
    assert board.part_reads == [("Card", str(card.pk), ["title"])]
    sql = [query["sql"] for query in queries.captured_queries]
    assert not any(name in statement for statement in sql for name in ("label", "reminder", "comment"))
    layer = next(layer for layer in BoardChannel._meta.layers if layer.type_name == "Card")
    assert patch.records == [records.fetch_records(layer, [str(card.pk)])[str(card.pk)][1]]
    assert patch.records[0] == {**before, "title": "Write the spec"}


def _carried(card: Card) -> dict[str, Any]:
    """The columns the trigger's notification carries for an UPDATE of this card (``row_to_json(NEW)``)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(c) FROM board_card c WHERE id = %s", [card.pk])
        (values,) = cursor.fetchone()
    return dict(values) if isinstance(values, dict) else dict(orjson.loads(values))


def test_a_title_edit_whose_notification_carried_the_row_reads_nothing(board: _Board) -> None:
    card = _card("Write spec")
    card.title = "Write the spec"
    card.save(update_fields=["title"])
    key = (Card, str(card.pk))
    carried = {key: _carried(card)}
    before = board.records()[("Card", str(card.pk))]
    board.broker.patches.clear()
    with CaptureQueriesContext(connection) as queries:
        assert propagate([key], board.cache, board.broker, {key: ["title"]}, carried) == 1
    # Django logs its atomic block's BEGIN and COMMIT; the snapshot ran no statement, so it began nothing.
    assert [query["sql"] for query in queries.captured_queries] == ["BEGIN", "COMMIT"]
    assert board.part_reads == []
    (patch,) = board.broker.patches
    layer = next(layer for layer in BoardChannel._meta.layers if layer.type_name == "Card")
    assert patch.records == [records.fetch_records(layer, [str(card.pk)])[str(card.pk)][1]]
    assert patch.records[0] == {**before, "title": "Write the spec"}


@pytest.mark.parametrize("lacking", ["title", "column_id"])
def test_carried_columns_lacking_a_read_column_or_a_foreign_key_are_read_back(
    board: _Board, lacking: str
) -> None:
    card = _card("Write spec")
    card.title = "Write the spec"
    card.save(update_fields=["title"])
    key = (Card, str(card.pk))
    values = _carried(card)
    del values[lacking]
    patch = board.propagate_carried([key], {key: ["title"]}, {key: values})
    assert board.part_reads == [("Card", str(card.pk), ["title"])]
    assert patch.records[0]["title"] == "Write the spec"


def test_a_change_of_a_column_json_does_not_carry_exactly_is_read_back(board: _Board) -> None:
    from decimal import Decimal

    card = _card("Write spec")
    card.estimate = Decimal("2.50")
    card.save(update_fields=["estimate"])
    key = (Card, str(card.pk))
    patch = board.propagate_carried([key], {key: ["estimate"]}, {key: _carried(card)})
    assert board.part_reads == [("Card", str(card.pk), ["estimate"])]
    layer = next(layer for layer in BoardChannel._meta.layers if layer.type_name == "Card")
    assert patch.records == [records.fetch_records(layer, [str(card.pk)])[str(card.pk)][1]]


def _retitle(board: _Board, titles: list[str]) -> tuple[list[Card], int, list[str]]:
    """Edit the titles of these cards and propagate them in one batch: the cards, the patches, the SQL."""
    cards = [_card(title) for title in titles]
    for card in cards:
        card.title += "!"
        card.save(update_fields=["title"])
    board.reads.clear()
    board.part_reads.clear()
    with CaptureQueriesContext(connection) as queries:
        patches = propagate(
            [(Card, str(card.pk)) for card in cards],
            board.cache,
            board.broker,
            {(Card, str(card.pk)): ["title"] for card in cards},
        )
    return cards, patches, [query["sql"] for query in queries.captured_queries]


def test_title_edits_of_several_rows_are_read_in_one_statement(board: _Board) -> None:
    cards, patches, sql = _retitle(board, ["Write spec", "Fix login"])
    assert patches == 1
    assert sorted(board.part_reads) == sorted(("Card", str(card.pk), ["title"]) for card in cards)
    assert sum("board_card" in statement for statement in sql) == 1
    held = board.records()
    assert [held[("Card", str(card.pk))]["title"] for card in cards] == [card.title for card in cards]


def test_several_rows_whose_method_field_must_run_are_rendered_whole(
    board: _Board, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A method field that declares nothing runs on every change: for several rows, a whole render
    prefetches what it reads instead of querying once per row."""
    monkeypatch.setattr(records, "declared_reads", lambda *args: None)
    records._field_reads.cache_clear()
    try:
        cards, patches, _ = _retitle(board, ["Write spec", "Fix login"])
    finally:
        monkeypatch.undo()
        records._field_reads.cache_clear()
    assert patches == 1
    assert board.part_reads == []
    assert sorted(board.reads["Card"]) == sorted(str(card.pk) for card in cards)


def test_a_move_re_renders_both_columns_as_id_lists(board: _Board) -> None:
    card = _card("Write spec")
    doing = Column.objects.get(title="Doing")
    old = card.column_id
    card.column = doing
    card.save(update_fields=["column"])
    patch = board.propagate([(Card, str(card.pk))], {(Card, str(card.pk)): ["column"]})
    assert _types(patch) == ["Card", "Column", "Column"]
    assert sorted(board.reads["Column"]) == sorted([str(old), str(doing.pk)])
    assert board.reads["Card"] == [str(card.pk)]  # the columns' other cards are listed by id, not read
    assert board.column_cards() == _expected_column_cards(board.world.board_a.pk)


def test_an_ordering_field_change_re_renders_the_column(board: _Board) -> None:
    card = _card("Fix login")
    card.position = -1  # now first in Todo
    card.save(update_fields=["position"])
    patch = board.propagate([(Card, str(card.pk))], {(Card, str(card.pk)): ["position"]})
    assert _types(patch) == ["Card", "Column"]
    assert board.column_cards() == _expected_column_cards(board.world.board_a.pk)
    todo = str(card.column_id)
    assert board.column_cards()[todo][0] == card.pk


def test_update_fields_naming_the_foreign_key_re_renders_the_parent(board: _Board) -> None:
    card = _card("Fix login")
    card.save(update_fields=["column"])  # the same column: the list is re-read all the same
    board.propagate_unchanged([(Card, str(card.pk))], {(Card, str(card.pk)): ["column_id"]})
    assert board.reads["Column"] == [str(card.column_id)]


def test_a_save_without_update_fields_re_renders_the_parent(board: _Board) -> None:
    card = _card("Fix login")
    card.title = "Fix the login"
    card.save()
    board.propagate([(Card, str(card.pk))])
    assert board.reads["Column"] == [str(card.column_id)]
    board.propagate_unchanged([(Card, str(card.pk))], {(Card, str(card.pk)): None})  # None: unknown
    assert board.reads["Column"] == [str(card.column_id)]


def test_the_decision_is_taken_against_the_parents_lists(board: _Board) -> None:
    """A row that moved without its move being propagated: a later title edit still fixes both lists."""
    card = _card("Write spec")
    doing = Column.objects.get(title="Doing")
    Card.objects.filter(pk=card.pk).update(column=doing)  # no signal, nothing propagated
    card.refresh_from_db()
    card.title = "Moved quietly"
    card.save(update_fields=["title"])
    patch = board.propagate([(Card, str(card.pk))], {(Card, str(card.pk)): ["title"]})
    assert _types(patch) == ["Card", "Column", "Column"]
    assert board.column_cards() == _expected_column_cards(board.world.board_a.pk)


def test_a_parent_with_a_method_field_follows_its_children(board: _Board) -> None:
    """``CardSerializer.comment_count`` reads the prefetched comments: it stays right."""
    card = _card("Write spec")
    comment = Comment.objects.create(card=card, author=board.world.bob, text="Looks good")
    patch = board.propagate([(Comment, str(comment.pk))], {(Comment, str(comment.pk)): None})
    rendered = {record["__typename"]: record for record in patch.records}
    assert rendered["Card"]["comment_count"] == 3
    assert rendered["Card"]["comments"][-1] == comment.pk
    comment.text = "Looks great"
    comment.save(update_fields=["text"])
    patch = board.propagate([(Comment, str(comment.pk))], {(Comment, str(comment.pk)): ["text"]})
    assert _types(patch) == ["Comment"]  # the card rendered the same: nothing else is sent
    assert board.reads["Card"] == [str(card.pk)]  # a parent with a method field is re-read all the same


@pytest.mark.parametrize("fields", [["name"], None], ids=["name", "unknown-fields"])
def test_a_renamed_label_moves_within_its_cards_lists(board: _Board, fields: list[str] | None) -> None:
    """A card's labels are listed by name: a rename reorders them though no link changed."""
    card = _card("Write spec")
    assert [label.name for label in card.labels.all()] == ["bug", "feature"]
    bug = Label.objects.get(board=board.world.board_a, name="bug")
    bug.name = "wontfix"
    bug.save(update_fields=["name"])
    board.propagate([(Label, str(bug.pk))], {(Label, str(bug.pk)): fields})
    expected = list(card.labels.order_by("name", "id").values_list("pk", flat=True))
    assert board.records()[("Card", str(card.pk))]["labels"] == expected
    assert expected[-1] == bug.pk


def test_a_label_edit_keeping_its_place_re_renders_no_card(board: _Board) -> None:
    bug = Label.objects.get(board=board.world.board_a, name="bug")
    bug.color = "#000000"
    bug.save(update_fields=["color"])
    patch = board.propagate([(Label, str(bug.pk))], {(Label, str(bug.pk)): ["color"]})
    assert _types(patch) == ["Label"]
    assert "Card" not in board.reads


def test_a_parent_re_rendered_for_its_child_and_gone_leaves_its_own_parents_list(board: _Board) -> None:
    """A comment's change re-renders its card; the card was deleted since (its own change not
    propagated yet): the column no longer lists it, and the card's deletion changes nothing more."""
    card = _card("Write spec")
    pk, column = str(card.pk), str(card.column_id)
    comment = card.comments.first()
    assert comment is not None
    card.delete()  # and its comments with it
    patch = board.propagate([(Comment, str(comment.pk))])
    assert ("Card", pk) in patch.deleted
    assert int(pk) not in board.column_cards()[column]
    assert board.column_cards() == _expected_column_cards(board.world.board_a.pk)
    board.propagate_unchanged([(Card, pk)])


def test_a_renamed_label_of_a_card_deleted_since_takes_the_card_out_of_its_column(board: _Board) -> None:
    card = _card("Write spec")
    pk = str(card.pk)
    bug = Label.objects.get(board=board.world.board_a, name="bug")
    bug.name = "wontfix"
    bug.save(update_fields=["name"])
    card.delete()
    board.propagate([(Label, str(bug.pk))], {(Label, str(bug.pk)): ["name"]})
    assert ("Card", pk) not in board.records()
    assert board.column_cards() == _expected_column_cards(board.world.board_a.pk)


def test_a_deleted_child_leaves_its_parents_list(board: _Board) -> None:
    card = _card("Fix login")
    pk, column = str(card.pk), str(card.column_id)
    card.delete()
    patch = board.propagate([(Card, pk)], {(Card, pk): ["title"]})
    assert ("Card", pk) in patch.deleted
    assert int(pk) not in board.column_cards()[column]
    assert board.column_cards() == _expected_column_cards(board.world.board_a.pk)


def test_edits_of_the_embedded_cache_read_and_write_under_one_lock(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads of one process propagate (the outbox propagator, the flusher replaying a heat backlog):
    without a lock taken before the snapshot, the one that read first could write last."""
    from contextlib import contextmanager

    from board.channels import BoardChannel

    from rxgraphql import propagate as module
    from rxgraphql.backends.memory import MemoryBroker, MemoryRecordCache

    seen: list[bool] = []

    @contextmanager
    def snapshot(model: object):  # type: ignore[no-untyped-def]
        seen.append(module.local_edits.locked())
        yield

    cache = MemoryRecordCache()
    monkeypatch.setattr(cache, "active_anchors", lambda channel: ["1"])
    monkeypatch.setattr(module, "consistent_reads", snapshot)
    monkeypatch.setattr(
        module, "_edit_and_publish", lambda *args: seen.append(module.local_edits.locked()) or 0
    )
    module.propagate([(BoardChannel._meta.layers.root.model, "1")], cache, MemoryBroker())
    assert len(seen) >= 2  # a snapshot and an edit for each channel showing boards
    assert all(seen)
    assert not module.local_edits.locked()


def test_a_record_cached_before_its_serializer_changed_is_rendered_whole(board: _Board) -> None:
    card = _card("Write spec")
    key = ("Card", str(card.pk))
    anchor = board.cache._anchors[(BoardChannel._meta.channel_name, board.anchor)]
    anchor.records[key] = {k: v for k, v in anchor.records[key].items() if k != "description"}
    card.title = "Write the spec"
    card.save(update_fields=["title"])
    patch = board.propagate([(Card, str(card.pk))], {(Card, str(card.pk)): ["title"]})
    assert patch.records[0]["description"] == card.description  # not completed from the old record
    assert board.reads["Card"] == [str(card.pk), str(card.pk)]  # read alone, then whole


@pytest.mark.parametrize(("least", "frozen"), [(1, True), (10**9, False)])
def test_a_large_heat_moves_its_records_out_of_the_collectors_generations(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch, least: int, frozen: bool
) -> None:
    world = make_board_world()
    monkeypatch.setattr(propagate_module, "FREEZE_RECORDS", least)
    was_enabled = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    try:
        heated = heat_records(BoardChannel, str(world.board_a.pk))
        assert heated is not None
        assert gc.isenabled()
        records = [record for _, record, _ in heated[1]]
        tracked = {id(obj) for obj in gc.get_objects()}
        assert (gc.get_freeze_count() > 0) is frozen
        assert any(id(record) in tracked for record in records) is not frozen
    finally:
        gc.unfreeze()
        if not was_enabled:
            gc.disable()


def test_only_a_change_naming_a_parents_foreign_key_can_move_a_row() -> None:
    from rxgraphql.propagate import _may_move

    card = next(layer for layer in BoardChannel._meta.layers if layer.type_name == "Card")
    assert not _may_move(card, frozenset({"title", "position"}))
    assert _may_move(card, frozenset({"column"}))
    assert _may_move(card, frozenset({"column_id"}))
    assert _may_move(card, None)
