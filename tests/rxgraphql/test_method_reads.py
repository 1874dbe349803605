"""``@reads``: what it records on the method, and the names it refuses when the channel's layers are built."""

from __future__ import annotations

import pytest
from board.models import Card
from board.serializers import CardSerializer
from django.core.exceptions import ImproperlyConfigured

from rxgraphql import reads
from rxgraphql.layers import LayerGraph
from rxgraphql.method_reads import declared_reads


def _build(serializer_class: type[CardSerializer]) -> None:
    LayerGraph(serializer_class())


def test_the_declared_fields_are_recorded_on_the_method() -> None:
    assert declared_reads(CardSerializer, "get_comment_count") == frozenset({"comments"})

    class Undeclared(CardSerializer):
        def get_comment_count(self, card: Card) -> int:
            return 0

    assert declared_reads(Undeclared, "get_comment_count") is None


def test_columns_by_name_or_attname_relations_and_pk_are_accepted() -> None:
    class Declared(CardSerializer):
        @reads("title", "column_id", "column", "labels", "comments", "pk")
        def get_comment_count(self, card: Card) -> int:
            return 0

    _build(Declared)


def test_a_name_the_model_lacks_is_refused_when_the_layers_are_built() -> None:
    class Misspelt(CardSerializer):
        @reads("comment")
        def get_comment_count(self, card: Card) -> int:
            return len(card.comments.all())

    refused = r"Misspelt.get_comment_count declares @reads\('comment'\)"
    with pytest.raises(ImproperlyConfigured, match=refused):
        _build(Misspelt)


def test_names_must_be_strings() -> None:
    with pytest.raises(TypeError, match="names of the model fields"):
        reads("title", 3)  # type: ignore[arg-type]
