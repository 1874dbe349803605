"""The registry: every channel once, one GraphQL name per serializer (app-prefixed on a clash), by model."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from board.channels import BoardChannel, MyBoardsChannel
from board.models import Board, Card
from chat.models import Message
from django.core.exceptions import ImproperlyConfigured

from rxgraphql.registry import Registry, registry


@dataclass(eq=False)
class FakeLayer:
    serializer_class: type
    model: Any
    type_name: str = ""


def serializer(name: str, module: str) -> type:
    return type(name, (), {"__module__": module})


def channel(name: str, *layers: FakeLayer) -> Any:
    """A stand-in for a channel class: only the options the registry reads."""
    field = name[:1].lower() + name[1:]
    options = SimpleNamespace(channel_name=f"tests.{name}", field_name=field, layers=layers)
    return type(name, (), {"_meta": options})


def test_the_projects_channels_are_registered_by_name() -> None:
    assert registry.ready
    assert registry.get(BoardChannel._meta.channel_name) is BoardChannel
    assert registry.channels[MyBoardsChannel._meta.channel_name] is MyBoardsChannel


def test_models_index_the_channels_and_layers_that_show_them() -> None:
    showing_cards = {(c, layer.type_name) for c, layer in registry.by_model[Card]}
    assert (BoardChannel, "Card") in showing_cards
    assert (MyBoardsChannel, "BoardSummary") in {
        (c, layer.type_name) for c, layer in registry.by_model[Board]
    }


def test_a_serializer_is_named_without_its_suffix() -> None:
    own = Registry()
    card = FakeLayer(serializer("CardSerializer", "board.serializers"), Card)
    plain = FakeLayer(serializer("Serializer", "board.serializers"), Board)
    own.register(channel("Cards", card, plain))
    own.finalize()
    assert (card.type_name, plain.type_name) == ("Card", "Serializer")


def test_two_serializers_of_one_name_take_their_apps_prefix_and_one_class_keeps_one_name() -> None:
    own = Registry()
    board_user = serializer("UserSerializer", "board.serializers")
    chat_user = serializer("UserSerializer", "chat.serializers")
    first, again = FakeLayer(board_user, Card), FakeLayer(board_user, Card)
    other = FakeLayer(chat_user, Message)
    own.register(channel("Boards", first))
    own.register(channel("Rooms", other, again))
    own.finalize()
    assert (first.type_name, again.type_name, other.type_name) == ("BoardUser", "BoardUser", "ChatUser")
    assert [c._meta.channel_name for c, _ in own.by_model[Card]] == ["tests.Boards", "tests.Rooms"]


def test_a_name_two_classes_still_share_is_refused() -> None:
    own = Registry()
    own.register(channel("A", FakeLayer(serializer("BoardCardSerializer", "board.serializers"), Card)))
    own.register(channel("B", FakeLayer(serializer("CardSerializer", "board.serializers"), Card)))
    own.register(channel("C", FakeLayer(serializer("CardSerializer", "chat.serializers"), Message)))
    with pytest.raises(ImproperlyConfigured, match="both map to the GraphQL type 'BoardCard'"):
        own.finalize()


def test_two_channels_cannot_be_one_graphql_field() -> None:
    own = Registry()
    own.register(channel("Boards"))
    options = SimpleNamespace(channel_name="elsewhere.Boards", field_name="boards", layers=())
    clash = type("Boards", (), {"_meta": options})
    with pytest.raises(ImproperlyConfigured, match="would both be the GraphQL field 'boards'"):
        own.register(clash)  # type: ignore[arg-type]
    assert list(own.channels) == ["tests.Boards"]


def test_registering_the_same_channel_again_replaces_it() -> None:
    own = Registry()
    own.register(channel("Boards"))
    own.register(channel("Boards"))
    assert list(own.channels) == ["tests.Boards"]


def test_a_channel_registered_once_ready_is_indexed_at_once() -> None:
    own = Registry()
    own.finalize()
    layer = FakeLayer(serializer("CardSerializer", "board.serializers"), Card)
    own.register(channel("Late", layer))
    assert layer.type_name == "Card"
    assert [c._meta.channel_name for c, _ in own.by_model[Card]] == ["tests.Late"]
