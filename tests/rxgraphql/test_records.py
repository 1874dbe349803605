"""Reading and rendering rows: id lists without child rows, keys bound as one array, one snapshot per read."""

from __future__ import annotations

import pytest
from board.channels import BoardChannel
from board.models import Board, Card, Column
from board.serializers import CardSerializer, ColumnSerializer
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rxgraphql import reads
from rxgraphql.layers import Layer, LayerGraph
from rxgraphql.records import (
    consistent_reads,
    fetch_fields,
    fetch_records,
    fields_to_render,
    renders_from_own_row,
)
from tests.support.world import make_board_world

LAYERS = {layer.type_name: layer for layer in BoardChannel._meta.layers}


def test_layers_with_computed_fields_are_told_apart() -> None:
    assert renders_from_own_row(LAYERS["Column"])
    assert renders_from_own_row(LAYERS["Board"])
    assert not renders_from_own_row(LAYERS["Card"])  # comment_count is a method field


@pytest.mark.django_db(transaction=True)
def test_a_column_lists_its_cards_as_ids_in_the_serializers_order() -> None:
    make_board_world()
    todo = Column.objects.get(title="Todo")
    Card.objects.create(column=todo, title="First now", position=-5)
    with CaptureQueriesContext(connection) as queries:
        (row, record), *_ = fetch_records(LAYERS["Column"], [str(todo.pk)]).values()
    assert record["cards"] == [card["id"] for card in ColumnSerializer(todo).data["cards"]]
    assert len(queries.captured_queries) == 2  # the column, then its card ids
    assert "board_card.title" not in queries.captured_queries[1]["sql"].replace('"', "")
    assert "_prefetched_objects_cache" not in row.__dict__


@pytest.mark.django_db(transaction=True)
def test_a_layer_with_a_method_field_renders_as_the_serializer_does() -> None:
    make_board_world()
    card = Card.objects.get(title="Write spec")
    ((_, record),) = fetch_records(LAYERS["Card"], [str(card.pk)]).values()
    expected = CardSerializer(card).data
    assert record["comment_count"] == expected["comment_count"] == 2
    assert record["comments"] == [comment["id"] for comment in expected["comments"]]
    assert record["labels"] == [label["id"] for label in expected["labels"]]


@pytest.mark.django_db(transaction=True)
def test_keys_are_bound_as_one_array_and_the_isolation_level_travels_with_begin() -> None:
    world = make_board_world()
    boards = [str(world.board_a.pk), str(world.board_b.pk)]
    with CaptureQueriesContext(connection) as queries, consistent_reads(Board):
        found = fetch_records(LAYERS["Board"], boards)
        with connection.cursor() as cursor:
            cursor.execute("SHOW transaction_isolation")
            level = cursor.fetchone()
    assert sorted(found) == sorted(boards)
    assert level == ("repeatable read",)
    statements = [query["sql"] for query in queries.captured_queries]
    assert not any("SET TRANSACTION" in sql for sql in statements)
    assert "= ANY(" in statements[1]
    with connection.cursor() as cursor:
        cursor.execute("SHOW transaction_isolation")
        assert cursor.fetchone() == ("read committed",)  # the connection's own level is back


def _card_layer(serializer_class: type[CardSerializer]) -> Layer:
    return LayerGraph(serializer_class()).layers[serializer_class]


class _UndeclaredCount(CardSerializer):
    def get_comment_count(self, card: Card) -> int:
        return len(card.comments.all())


def test_a_change_of_some_columns_re_renders_the_fields_reading_them_and_the_opaque_ones() -> None:
    card = _card_layer(_UndeclaredCount)
    assert fields_to_render(card, {"title"}) == ["title", "comment_count"]  # a method field may read it
    assert fields_to_render(card, {"column_id"}) == ["column", "comment_count"]
    assert fields_to_render(card, {"assignee"}) == ["assignee", "comment_count"]
    assert fields_to_render(card, {"created_by"}) == ["creator", "comment_count"]  # a source= rename
    assert fields_to_render(LAYERS["Column"], {"title", "position"}) == ["title", "position"]
    assert fields_to_render(LAYERS["Column"], {"board"}) == []  # no field of its record shows it


def test_a_method_field_declaring_what_it_reads_is_rendered_for_those_columns_only() -> None:
    # The example's comment_count declares @reads("comments"): no column of the card's row.
    assert fields_to_render(LAYERS["Card"], {"title"}) == ["title"]
    assert fields_to_render(LAYERS["Card"], {"column_id", "position"}) == ["position", "column"]

    class TitleAndComments(CardSerializer):
        @reads("title", "comments")
        def get_comment_count(self, card: Card) -> int:
            return len(card.title) + len(card.comments.all())

    card = _card_layer(TitleAndComments)
    assert fields_to_render(card, {"title"}) == ["title", "comment_count"]
    assert fields_to_render(card, {"assignee_id"}) == ["assignee"]


def test_a_serializer_rendering_its_own_way_is_rendered_whole() -> None:
    from rxgraphql.layers import Layer

    class Shouting(ColumnSerializer):
        def to_representation(self, instance: Column) -> dict[str, object]:
            return {**super().to_representation(instance), "title": instance.title.upper()}

    layer = Layer(Shouting, Column, Shouting)
    assert fields_to_render(layer, {"title"}) is None


@pytest.mark.django_db(transaction=True)
def test_a_row_read_alone_renders_the_asked_fields_as_the_serializer_does() -> None:
    make_board_world()
    card = Card.objects.get(title="Write spec")
    with CaptureQueriesContext(connection) as queries:
        hits = fetch_fields(LAYERS["Card"], {str(card.pk): ["title", "comment_count", "column"]})
    found = hits[str(card.pk)]
    expected = CardSerializer(card).data
    assert found[1] == {key: expected[key] for key in ("title", "column", "comment_count")}
    assert len(queries.captured_queries) == 2  # the row's columns, then what comment_count reads
    assert fetch_fields(LAYERS["Card"], {"999999": ["title"]}) == {}
