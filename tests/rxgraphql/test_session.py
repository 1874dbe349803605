"""``async with channel.live(session)``: the transport's session is bound while its subscription runs."""

from __future__ import annotations

import asyncio

import pytest
from board.channels import MyBoardsChannel
from chat.channels import ChatRoomChannel
from django.contrib.auth.models import AnonymousUser

from rxgraphql.actions import ActionError


class _Session:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.order = ["3", "1"]

    async def runtime_changed(self) -> None:
        self.calls.append("runtime")

    async def group_add(self, group: str) -> None:
        self.calls.append(f"add {group}")

    async def group_discard(self, group: str) -> None:
        self.calls.append(f"discard {group}")

    @property
    def anchors(self) -> list[str]:
        return self.order

    async def add_anchor(self, anchor: str, at_start: bool) -> bool:
        self.calls.append(f"list {anchor} {at_start}")
        return True

    async def remove_anchor(self, anchor: str) -> bool:
        return False

    async def clear_anchors(self) -> None:
        self.calls.append("clear")

    async def close(self) -> None:
        self.calls.append("close")


def test_the_instance_talks_to_its_session_while_live_and_closes_it_after() -> None:
    channel = ChatRoomChannel(AnonymousUser(), room_id=1)
    session = _Session()

    async def scenario() -> None:
        async with channel.live(session):
            await channel.set_runtime_var("typing", ["ann"])
            await channel.group_add("room")
        await channel.set_runtime_var("typing", [])  # no subscriber left: nobody to tell
        with pytest.raises(RuntimeError):
            await channel.group_add("room")

    asyncio.run(scenario())
    assert session.calls == ["runtime", "add room", "close"]
    assert channel.runtime_state.typing == []


def test_an_instance_has_one_live_subscription_at_a_time() -> None:
    channel = ChatRoomChannel(AnonymousUser(), room_id=1)

    async def scenario() -> None:
        async with channel.live(_Session()):
            with pytest.raises(RuntimeError):
                async with channel.live(_Session()):
                    pass

    asyncio.run(scenario())


def test_a_list_channel_changes_its_list_through_the_session_only_while_live() -> None:
    channel = MyBoardsChannel(AnonymousUser())
    session = _Session()

    async def scenario() -> None:
        with pytest.raises(ActionError):
            await channel.clear()
        assert channel.anchor_ids == []
        async with channel.live(session):
            assert channel.anchor_ids == ["3", "1"]
            assert await channel.add_instance(7, at_start=True)
            await channel.clear()

    asyncio.run(scenario())
    assert session.calls == ["list 7 True", "clear", "close"]
