"""The control view: this process's knowledge of the active anchors, loaded once and kept by notices."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from rxgraphql.backends.base import AnchorState
from rxgraphql.backends.redis_control import ControlView
from rxgraphql.backends.redis_keys import CONTROL, SEP, Scripts, active_key, message_prefix, parse_state
from tests.support.redis_server import RedisServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


class Notices:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, AnchorState]] = []
        self.resets = 0
        self.changed = threading.Condition()

    def notice(self, channel: str, anchor: str, state: AnchorState) -> None:
        with self.changed:
            self.seen.append((channel, anchor, state))
            self.changed.notify_all()

    def reset(self) -> None:
        self.resets += 1


@pytest.fixture
def control(redis_server: RedisServer) -> Iterator[tuple[ControlView, Notices, redis.Redis]]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    notices = Notices()
    view = ControlView(redis_server.url, client, Scripts(client), notices.notice, notices.reset)
    view.start()
    assert view.ready.wait(10), "the control connection checks the Redis run"
    try:
        yield view, notices, client
    finally:
        view.stop()
        client.close()


def test_parse_state_reads_what_redis_stores() -> None:
    assert parse_state(b"hot") is AnchorState.HOT
    assert parse_state("heating") is AnchorState.HEATING
    assert parse_state(None) is AnchorState.COLD, "no state hash: cold"
    assert parse_state(b"melting") is AnchorState.COLD


def test_a_channel_is_loaded_from_redis_on_first_use_then_follows_the_notices(
    control: tuple[ControlView, Notices, redis.Redis],
) -> None:
    view, notices, client = control
    client.hset(active_key("c"), mapping={"1": "hot", "2": "heating", "3": "cooling"})
    assert view.view("c") == {"1": AnchorState.HOT, "2": AnchorState.HEATING}, "cooling is not active"
    client.hdel(active_key("c"), "1")  # no notice: the loaded view is kept
    assert "1" in view.view("c")
    client.publish(CONTROL, message_prefix("c", "1") + "cold")
    wait_until(lambda: "1" not in view.view("c"), "the notice removes the anchor from the view")
    assert ("c", "1", AnchorState.COLD) in notices.seen, "the node hears of every transition"


def test_a_local_transition_is_known_before_its_notice(
    control: tuple[ControlView, Notices, redis.Redis],
) -> None:
    view, _, _ = control
    assert view.view("c") == {}
    view.apply_local("c", "9", AnchorState.HOT)
    assert view.view("c") == {"9": AnchorState.HOT}
    view.apply_local("c", "9", AnchorState.COOLING)
    assert view.view("c") == {}


def test_the_own_notice_of_a_transition_is_awaited_by_its_token(
    control: tuple[ControlView, Notices, redis.Redis],
) -> None:
    view, _, client = control
    assert view.view("c") == {}, "loaded: later notices apply to the view"
    seen = view.expect_own("token-1")
    refused = view.expect_own("token-2")
    view.forget_own("token-2")
    client.publish(CONTROL, message_prefix("c", "5") + "heating" + SEP + "token-1")
    assert seen.wait(10), "the notice carrying the token came back"
    client.publish(CONTROL, message_prefix("c", "6") + "heating" + SEP + "token-2")
    wait_until(lambda: "6" in view.view("c"), "the second notice was applied")
    assert not refused.is_set(), "a forgotten token is never set"
