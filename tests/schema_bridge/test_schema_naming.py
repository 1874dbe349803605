"""A project's own strawberry types beside the layer types: the naming rule, and a clear error when broken.

Layer types are named after their serializers (``CardSerializer`` -> ``Card``); a project's strawberry-django
type for the same model takes another name (the example's ``CardType``).
"""

from __future__ import annotations

import pytest
import strawberry
import strawberry_django
from board.models import Card
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings
from strawberry import auto

from schema_bridge.schema import SchemaIndex


@strawberry_django.type(Card, name="Card")
class ClashingCard:
    """A project type that takes the layer type's name."""

    id: auto
    title: auto


@strawberry.type
class ClashingQuery:
    card: ClashingCard | None = strawberry_django.field()


def test_the_example_serves_its_card_type_beside_the_card_layer() -> None:
    schema = SchemaIndex().schema
    layer = schema.get_type_by_name("Card")
    own = schema.get_type_by_name("CardType")
    assert layer is not None
    assert own is not None
    assert {f.name for f in layer.fields} >= {"column", "labels", "comments"}  # type: ignore[union-attr]
    assert schema.get_type_by_name("ColumnType") is not None
    assert schema.get_type_by_name("Column") is not None


def test_a_type_that_takes_a_layer_name_fails_the_build_naming_the_rule(settings: Settings) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "QUERY": f"{__name__}.ClashingQuery"}
    with pytest.raises(ImproperlyConfigured) as raised:
        SchemaIndex()
    message = str(raised.value)
    assert "Type Card is defined multiple times" in message
    assert "CardSerializer -> Card" in message
    assert "CardType" in message


def test_extensions_must_be_named_as_classes(settings: Settings) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "EXTENSIONS": [f"{__name__}.AN_INSTANCE"]}
    with pytest.raises(ImproperlyConfigured, match="give the class, not an instance"):
        SchemaIndex()


AN_INSTANCE = strawberry.extensions.MaskErrors()
