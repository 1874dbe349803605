"""``@consumer``: which method handles which channel-layer event type, inherited ones included."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from rxgraphql.consumers import collect_consumers, consumer


class Base:
    @consumer("chat.typing")
    def typing(self, message: dict[str, Any]) -> None: ...

    @consumer("chat.left")
    def left(self, message: dict[str, Any]) -> None: ...


class Child(Base):
    @consumer("chat.typing")
    def typing_here(self, message: dict[str, Any]) -> None: ...

    @consumer("chat.joined")
    async def joined(self, message: dict[str, Any]) -> None: ...


def test_each_event_type_maps_to_its_method() -> None:
    assert collect_consumers(Base) == {"chat.typing": "typing", "chat.left": "left"}


def test_the_nearest_definition_of_an_event_type_wins() -> None:
    assert collect_consumers(Child) == {
        "chat.typing": "typing_here",
        "chat.left": "left",
        "chat.joined": "joined",
    }


def test_a_class_without_consumers_has_none() -> None:
    assert collect_consumers(object) == {}


def test_two_methods_of_one_class_cannot_consume_one_type() -> None:
    class Twice:
        @consumer("chat.typing")
        def one(self, message: dict[str, Any]) -> None: ...

        @consumer("chat.typing")
        def two(self, message: dict[str, Any]) -> None: ...

    with pytest.raises(ImproperlyConfigured, match=r"one and two both consume 'chat\.typing'"):
        collect_consumers(Twice)


@pytest.mark.parametrize("event_type", ["", None, 3])
def test_the_event_type_is_required(event_type: Any) -> None:
    with pytest.raises(ImproperlyConfigured, match="needs the event type"):
        consumer(event_type)


def test_the_decorator_returns_the_method_itself() -> None:
    def handler(self: Any, message: dict[str, Any]) -> None: ...

    assert consumer("x.y")(handler) is handler
