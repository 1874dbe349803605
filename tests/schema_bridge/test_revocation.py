"""Shared access checks: the guards of one user on one channel instance await one ``has_permission``
call, whatever woke them, and periodic checks are spread over the interval."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from pytest_django.fixtures import Settings as SettingsWrapper

from schema_bridge import revocation
from schema_bridge.revocation import Guard, Verdicts


class StandInChannel:
    """A stand-in for a channel instance: counts its ``has_permission`` calls."""

    calls = 0

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def has_permission(self, user: Any, **kwargs: Any) -> bool:
        type(self).calls += 1
        return bool(user.allowed)


class StandInUser:
    def __init__(self, pk: int, allowed: bool = True) -> None:
        self.pk = pk
        self.allowed = allowed


class StandInConnection:
    """A stand-in for a socket: its user and credentials."""

    def __init__(self, user: StandInUser, token: str) -> None:
        self.context = type("Context", (), {"user": user})()
        self.credentials = (f"Token {token}", None)

    async def current_user(self) -> StandInUser:
        return self.context.user  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def counted(monkeypatch: pytest.MonkeyPatch) -> None:
    StandInChannel.calls = 0
    monkeypatch.setattr(revocation, "verdicts", Verdicts())
    # The stand-ins touch no database: their checks run without closing the thread's connections.
    monkeypatch.setattr(revocation, "database_sync_to_async", sync_to_async)


def _guard(user: StandInUser, token: str = "t", **kwargs: Any) -> Guard:
    return Guard(StandInConnection(user, token), StandInChannel(**kwargs))  # type: ignore[arg-type]


async def test_a_patch_holding_many_guards_of_one_user_costs_one_check() -> None:
    user = StandInUser(1)
    held = [_guard(user, board=7) for _ in range(100)]
    for guard in held:
        guard.request()
    answers = await asyncio.gather(*(guard.allowed(guard.woken_at) for guard in held))
    assert answers == [True] * 100
    assert StandInChannel.calls == 1


async def test_other_users_arguments_or_credentials_are_checked_apart() -> None:
    alice, bob = StandInUser(1), StandInUser(2, allowed=False)
    guards = [
        _guard(alice, board=7),
        _guard(bob, board=7),
        _guard(alice, board=8),
        _guard(alice, "u", board=7),
    ]
    answers = await asyncio.gather(*(guard.allowed(0.0) for guard in guards))
    assert answers == [True, False, True, True]
    assert StandInChannel.calls == 4


async def test_a_request_after_a_check_began_waits_for_a_new_one() -> None:
    user = StandInUser(1)
    first, second = _guard(user, board=7), _guard(user, board=7)
    assert await first.allowed(0.0)
    user.allowed = False  # access withdrawn after that check
    second.request()
    assert not await second.allowed(second.woken_at)
    assert StandInChannel.calls == 2


async def test_a_periodic_check_accepts_one_begun_within_half_an_interval(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "PERMISSION_RECHECK_INTERVAL": 30.0}
    user = StandInUser(1)
    first, second = _guard(user, board=7), _guard(user, board=7)
    assert await first.allowed(0.0)
    assert await second.allowed(time.monotonic() - 15.0)
    assert StandInChannel.calls == 1


async def test_a_guard_whose_socket_closes_does_not_cancel_the_others_check() -> None:
    release = asyncio.Event()
    checks = 0

    async def check() -> bool:
        nonlocal checks
        checks += 1
        await release.wait()
        return True

    shared = revocation.verdicts
    leaving = asyncio.ensure_future(shared.get("key", 0.0, check))
    staying = asyncio.ensure_future(shared.get("key", 0.0, check))
    leaving.cancel()
    release.set()
    assert await staying
    assert checks == 1


async def test_a_finished_check_is_forgotten(
    monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "PERMISSION_RECHECK_INTERVAL": 0.0}
    forgotten = asyncio.Event()
    shared = revocation.verdicts
    original = shared._forget

    def forget(key: Any, future: asyncio.Future[bool]) -> None:
        original(key, future)
        forgotten.set()

    monkeypatch.setattr(shared, "_forget", forget)
    assert await _guard(StandInUser(1), board=7).allowed(0.0)
    await asyncio.wait_for(forgotten.wait(), 5)
    assert shared._checks == {}


async def test_periods_are_spread_first_within_half_an_interval_then_within_ten_percent(
    monkeypatch: pytest.MonkeyPatch, settings: SettingsWrapper
) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "PERMISSION_RECHECK_INTERVAL": 100.0}
    drawn: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        drawn.append((low, high))
        return 0.0001  # 10 ms periods, so the test sees two checks come due

    monkeypatch.setattr(revocation.random, "uniform", uniform)
    guard = _guard(StandInUser(1), board=7)
    running = asyncio.ensure_future(guard.run())
    try:
        for _ in range(2):
            await asyncio.wait_for(guard.checked.wait(), 5)
            guard.checked.clear()
    finally:
        running.cancel()
    assert drawn[:2] == [(0.5, 1.0), (0.9, 1.1)]
