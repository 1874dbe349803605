"""The layer model of the example board: one layer per serializer class, edges by relation kind."""

import importlib
import sys
from pathlib import Path

import pytest
from board.channels import BoardChannel
from board.models import Board, BoardSettings, Card, Column, Comment, Label, Reminder
from board.serializers import BoardSerializer
from django.apps import AppConfig
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from rxgraphql.apps import discover_channels
from rxgraphql.layers import EdgeKind, LayerGraph


def _edges() -> dict[tuple[str, str], EdgeKind]:
    return {
        (edge.parent.type_name, edge.field_name): edge.kind
        for layer in BoardChannel._meta.layers
        for edge in layer.children
    }


def test_one_layer_per_serializer_class_with_app_prefixed_clashing_names() -> None:
    names = {layer.type_name: layer.model for layer in BoardChannel._meta.layers}
    assert names == {
        "Board": Board,
        "BoardUser": User,
        "BoardSettings": BoardSettings,
        "Label": Label,
        "Column": Column,
        "Card": Card,
        "Comment": Comment,
        "Reminder": Reminder,
    }


def test_edge_kinds_follow_the_model_relations() -> None:
    assert _edges() == {
        ("Board", "owner"): EdgeKind.FORWARD,
        ("Board", "settings"): EdgeKind.REVERSE,  # reverse one-to-one
        ("Board", "labels"): EdgeKind.REVERSE,
        ("Board", "columns"): EdgeKind.REVERSE,
        ("Column", "cards"): EdgeKind.REVERSE,
        ("Card", "assignee"): EdgeKind.FORWARD,
        ("Card", "creator"): EdgeKind.FORWARD,  # source="created_by"
        ("Card", "labels"): EdgeKind.MANY_TO_MANY,
        ("Card", "comments"): EdgeKind.REVERSE,
        ("Card", "reminders"): EdgeKind.REVERSE,
        ("Comment", "author"): EdgeKind.FORWARD,
    }


@pytest.mark.django_db
def test_flat_record_keeps_scalars_and_replaces_children_by_ids() -> None:
    owner = User.objects.create(username="o")
    board = Board.objects.create(title="t", owner=owner)
    column = Column.objects.create(board=board, title="c")
    card = Card.objects.create(column=column, title="x", created_by=owner, estimate="1.50")
    Comment.objects.create(card=card, author=owner, text="hi")
    layer = next(layer for layer in BoardChannel._meta.layers if layer.type_name == "Card")
    data = layer.flat_serializer_class(card).data
    assert data["creator"] == owner.pk
    assert data["assignee"] is None
    assert data["comment_count"] == 1
    assert data["estimate"] == "1.50"
    assert data["labels"] == []
    assert len(data["comments"]) == 1
    nested = BoardSerializer(board).data
    assert nested["columns"][0]["cards"][0]["creator"] == {"id": owner.pk, "username": "o"}


def test_serializer_without_its_primary_key_is_refused() -> None:
    class NoId(serializers.ModelSerializer[Label]):
        class Meta:
            model = Label
            fields = ["name"]

    with pytest.raises(ImproperlyConfigured, match="primary key"):
        LayerGraph(NoId())


def test_an_error_inside_a_channels_module_surfaces(tmp_path: Path) -> None:
    for name in ("brokenapp", "plainapp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "brokenapp" / "channels.py").write_text("import module_that_does_not_exist\n")
    sys.path.insert(0, str(tmp_path))
    try:
        plain = AppConfig("plainapp", importlib.import_module("plainapp"))
        discover_channels([plain])  # no channels module: nothing to import, no error
        broken = AppConfig("brokenapp", importlib.import_module("brokenapp"))
        with pytest.raises(ModuleNotFoundError, match="module_that_does_not_exist"):
            discover_channels([plain, broken])
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("brokenapp", "brokenapp.channels", "plainapp"):
            sys.modules.pop(name, None)
