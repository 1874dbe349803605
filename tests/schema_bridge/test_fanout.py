"""Operations and document groups: an operation frames what is rendered for it; subscribers of one anchor
with the same document share one execution per patch."""

import asyncio
from collections.abc import Callable

import pytest
from board.channels import BoardChannel
from board.models import Card, Reminder
from django.contrib.auth.models import AnonymousUser
from graphql import GraphQLError

from rxgraphql.stream import Notice, Patch
from schema_bridge import fanout as fanout_module
from schema_bridge.fanout import SLICE_CHECK, ExecutionGroup, FanOut, fanout
from tests.support.live import LiveClient, find_record
from tests.support.sockets import FakeSocket, make_operation
from tests.support.world import BoardWorld, make_room

ClientFactory = Callable[[], LiveClient]


def test_one_execution_per_patch_for_every_subscriber(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    room = make_room("fan-out", world.alice, world.bob)
    watchers = [ws_client().connect(world.token(world.alice)).watch_room(room.pk) for _ in range(4)]
    watchers.append(ws_client().connect(world.token(world.bob)).watch_room(room.pk))
    for watcher in watchers:
        watcher.ready()
    groups = [group for group in fanout.groups.values() if group.key[1] == str(room.pk)]
    assert len(groups) == 1
    assert len(groups[0].sinks) == 5
    before = groups[0].executions

    room.name = "shared execution"
    room.save()
    payloads = []
    for watcher in watchers:
        event = watcher.next()
        record = find_record(event, "ChatRoom", room.pk)
        assert record is not None
        assert record["name"] == "shared execution"
        payloads.append(event)
    assert groups[0].executions - before == 1
    assert all(payload == payloads[0] for payload in payloads)


def _watch_board_as_alice_and_bob(world: BoardWorld, ws_client: ClientFactory) -> list[LiveClient]:
    board = world.board_a
    watchers = [ws_client().connect(world.token(world.alice)).watch_board(board.pk) for _ in range(3)]
    watchers.append(ws_client().connect(world.token(world.bob)).watch_board(board.pk))
    for watcher in watchers:
        watcher.ready()
    return watchers


def _board_groups(world: BoardWorld) -> list[ExecutionGroup]:
    return [group for group in fanout.groups.values() if group.key[1] == str(world.board_a.pk)]


def test_per_user_channels_share_one_execution_per_user(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    """A patch carrying a per-user list (the card's reminders) is executed once per user."""
    world = board_world
    watchers = _watch_board_as_alice_and_bob(world, ws_client)
    groups = _board_groups(world)
    assert sorted(len(group.sinks) for group in groups) == [1, 3]  # BoardChannel has per-user reminders
    before = sum(group.executions for group in groups)
    card = Card.objects.get(title="Write spec")
    Reminder.objects.create(card=card, owner=world.alice, text="call bob")
    for watcher in watchers:
        assert find_record(watcher.next(), "Card", card.pk) is not None
    assert sum(group.executions for group in groups) - before == 2


def test_a_patch_without_per_user_records_is_rendered_once_for_every_user(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    board = world.board_a
    watchers = _watch_board_as_alice_and_bob(world, ws_client)
    groups = _board_groups(world)
    before = sum(group.executions for group in groups)
    board.title = "per user"
    board.save()
    events = [watcher.next() for watcher in watchers]
    for event in events:
        assert find_record(event, "Board", board.pk) is not None
    assert sum(group.executions for group in groups) - before == 1
    assert all(event == events[0] for event in events)


def test_leaving_subscribers_release_the_group(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    board = world.board_a
    first = ws_client().connect(world.token(world.alice)).watch_board(board.pk)
    client = ws_client().connect(world.token(world.alice))
    second = client.watch_board(board.pk)
    first.ready()
    second.ready()
    first.stop()
    board.title = "after one left"
    board.save()
    assert find_record(second.next(), "Board", board.pk) is not None
    second.stop()
    # The server handles one socket's messages in order: once this query is answered, the
    # cancelled subscription has left its group.
    assert client.execute("{ me }")["data"] == {"me": "alice"}
    assert [group for group in fanout.groups.values() if group.key[1] == str(board.pk)] == []


def test_a_patch_object_is_rendered_once_per_document_whatever_the_users_of_the_groups() -> None:
    op = make_operation(FakeSocket(AnonymousUser()), "subscription { boardChannel(boardId: 1) { cursor } }")
    fan = FanOut()
    document = (BoardChannel._meta.channel_name, "1", op.query, None, b"{}")
    alice, bob = (ExecutionGroup(fan, BoardChannel, user, (*document, user), op) for user in ("1", "2"))
    patch = Patch(channel=BoardChannel._meta.channel_name, anchor="1", epoch="e", version=3)
    assert (
        fan.payload(alice, patch) == fan.payload(bob, patch) == '{"data":{"boardChannel":{"cursor":"e.3"}}}'
    )
    assert (alice.executions, bob.executions) == (1, 0)
    view = Patch(channel=BoardChannel._meta.channel_name, anchor="1", epoch="e", version=3)  # cut for bob
    fan.payload(bob, view)
    assert bob.executions == 1


def test_a_payload_is_framed_with_the_operation_id() -> None:
    socket = FakeSocket()
    op = make_operation(socket, op_id='a"b')
    op.push('{"data":{"x":1}}')
    asyncio.run(op.push_wait('{"data":null}'))
    assert socket.messages() == [
        {"id": 'a"b', "type": "next", "payload": {"data": {"x": 1}}},
        {"id": 'a"b', "type": "next", "payload": {"data": None}},
    ]
    assert op.user_id is None  # anonymous


def test_a_refusal_is_one_error_then_complete() -> None:
    socket = FakeSocket()
    make_operation(socket).refuse(GraphQLError("No such anchor", extensions={"code": "NOT_FOUND"}))
    refused, complete = socket.messages()
    assert refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    assert complete == {"id": "1", "type": "complete"}


class RecordingSink:
    """A sink that keeps what it is handed, in order."""

    def __init__(self, log: list[tuple[int, str]], number: int) -> None:
        self.number = number
        self.log = log
        self.patches: list[Patch] = []
        self.notices: list[str] = []

    def push_live(self, payload: str, patch: Patch) -> None:
        self.patches.append(patch)
        self.log.append((self.number, "patch"))

    def push_notice(self, payload: str, notice: Notice) -> None:
        self.notices.append(payload)
        self.log.append((self.number, "notice"))


def _card(pk: int, title: str) -> dict[str, object]:
    return {"__typename": "Card", "id": pk, "title": title}


def _sliced_group(monkeypatch: pytest.MonkeyPatch, sinks: int) -> tuple[ExecutionGroup, list[RecordingSink]]:
    """A group of ``sinks`` sinks that lets the loop run after every ``SLICE_CHECK`` of them."""
    monkeypatch.setattr(fanout_module, "SLICE_SECONDS", 0.0)
    op = make_operation(FakeSocket(AnonymousUser()), "subscription { boardChannel(boardId: 1) { cursor } }")
    key = (BoardChannel._meta.channel_name, "1", op.query, None, b"{}", None)
    group = ExecutionGroup(FanOut(), BoardChannel, None, key, op)
    log: list[tuple[int, str]] = []
    recorders = [RecordingSink(log, number) for number in range(sinks)]
    for sink in recorders:
        group.sinks[sink] = None
    return group, recorders


def _patch_of(version: int, *records: dict[str, object]) -> Patch:
    return Patch(
        channel=BoardChannel._meta.channel_name, anchor="1", epoch="e", version=version, records=list(records)
    )


async def test_a_large_group_sends_in_slices_and_lets_the_loop_run_between_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group, sinks = _sliced_group(monkeypatch, 3 * SLICE_CHECK)
    group.deliver(_patch_of(1, _card(7, "a")))
    assert [len(sink.patches) for sink in sinks] == [1] * SLICE_CHECK + [0] * (2 * SLICE_CHECK)
    assert group.sending
    await asyncio.sleep(0)  # the loop runs what was ready: the next slice came first
    assert [len(sink.patches) for sink in sinks] == [1] * (2 * SLICE_CHECK) + [0] * SLICE_CHECK
    group.finish()
    assert not group.sending
    assert all(len(sink.patches) == 1 for sink in sinks)
    assert group.executions == 1


async def test_a_patch_handed_over_mid_delivery_rides_one_frame_to_the_sockets_not_yet_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group, sinks = _sliced_group(monkeypatch, 3 * SLICE_CHECK)
    group.deliver(_patch_of(1, _card(7, "a"), _card(8, "b")))
    group.deliver(_patch_of(2, _card(7, "c")))  # the first slice has run, the rest wait
    group.finish()
    reached, later = sinks[:SLICE_CHECK], sinks[SLICE_CHECK:]
    for sink in reached:  # the first patch, then the newer one alone
        assert [(p.version, p.records) for p in sink.patches] == [
            (1, [_card(7, "a"), _card(8, "b")]),
            (2, [_card(7, "c")]),
        ]
    for sink in later:  # both merged: the last version of each record, the newest cursor
        assert len(sink.patches) == 1
        merged = sink.patches[0]
        assert merged.version == 2
        assert sorted(merged.records, key=lambda r: str(r["id"])) == [_card(7, "c"), _card(8, "b")]
    assert len({id(sink.patches[0]) for sink in later}) == 1  # one merged patch, rendered once
    assert group.executions == 3  # the first patch, the merge, the newer patch alone


async def test_a_notice_waits_for_the_patches_handed_over_before_it(monkeypatch: pytest.MonkeyPatch) -> None:
    group, sinks = _sliced_group(monkeypatch, 3 * SLICE_CHECK)
    group.deliver(_patch_of(1, _card(7, "a")))
    group.notify(Notice(payload={"text": "hello"}))
    assert not group.sending
    log = sinks[0].log  # shared by the sinks
    for sink in sinks:
        assert [kind for number, kind in log if number == sink.number] == ["patch", "notice"]


async def test_a_sink_that_leaves_mid_delivery_gets_nothing_more(monkeypatch: pytest.MonkeyPatch) -> None:
    group, sinks = _sliced_group(monkeypatch, 3 * SLICE_CHECK)
    group.deliver(_patch_of(1, _card(7, "a")))
    gone = sinks[-1]
    group.leave(gone)
    group.finish()
    assert gone.patches == []
    assert all(len(sink.patches) == 1 for sink in sinks[:-1])


async def test_one_patch_handed_to_many_groups_reaches_the_idle_ones_at_once_and_a_busy_one_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout_module, "SLICE_SECONDS", 0.0)
    op = make_operation(FakeSocket(AnonymousUser()), "subscription { boardChannel(boardId: 1) { cursor } }")
    fan = FanOut()
    document = (BoardChannel._meta.channel_name, "1", op.query, None, b"{}")
    log: list[tuple[int, str]] = []
    members: list[tuple[ExecutionGroup, RecordingSink]] = []
    for user in ("1", "2", "3"):  # one socket each, as the members of a per-user channel
        group = ExecutionGroup(fan, BoardChannel, user, (*document, user), op)
        sink = RecordingSink(log, int(user))
        group.sinks[sink] = user
        members.append((group, sink))
    busy = ExecutionGroup(fan, BoardChannel, "4", (*document, "4"), op)
    busy_sinks = [RecordingSink(log, 100 + n) for n in range(3 * SLICE_CHECK)]
    for sink in busy_sinks:
        busy.sinks[sink] = "4"
    first = _patch_of(1, _card(7, "a"))
    busy.deliver(first)
    assert busy.sending  # its first slice is out, the rest wait for the loop
    second = _patch_of(2, _card(8, "b"))
    queued: list[ExecutionGroup] = []
    real_enqueue = ExecutionGroup._enqueue

    def enqueue(self: ExecutionGroup, patch: Patch) -> None:
        queued.append(self)
        real_enqueue(self, patch)

    observed: list[tuple[str, Patch]] = []
    monkeypatch.setattr(ExecutionGroup, "_enqueue", enqueue)
    monkeypatch.setattr(
        fanout_module.metrics, "patch_sent", lambda channel, patch: observed.append((channel, patch))
    )
    ExecutionGroup.deliver_all([group for group, _ in members] + [busy], second)
    assert queued == [busy]  # the idle members were written to straight away
    # one document for the four groups: its commit-to-send latency is observed once, not once per member
    assert observed == [(BoardChannel._meta.channel_name, second)]
    for group, sink in members:
        assert sink.patches == [second]
        assert not group.sending
    assert sum(group.executions for group, _ in members) == 1  # rendered once for all three
    busy.finish()
    for sink in busy_sinks[:SLICE_CHECK]:
        assert [p.version for p in sink.patches] == [1, 2]
    for sink in busy_sinks[SLICE_CHECK:]:  # both merged into one frame, as for any group still sending
        (merged,) = sink.patches
        assert merged.version == 2
        assert sorted(merged.records, key=lambda r: str(r["id"])) == [_card(7, "a"), _card(8, "b")]


async def test_a_member_that_fails_or_leaves_during_a_shared_delivery_does_not_stop_the_others() -> None:
    op = make_operation(FakeSocket(AnonymousUser()), "subscription { boardChannel(boardId: 1) { cursor } }")
    fan = FanOut()
    document = (BoardChannel._meta.channel_name, "1", op.query, None, b"{}")
    log: list[tuple[int, str]] = []
    group = ExecutionGroup(fan, BoardChannel, "1", (*document, "1"), op)
    staying, leaving = RecordingSink(log, 1), RecordingSink(log, 2)

    class FailingSink(RecordingSink):
        def push_live(self, payload: str, patch: Patch) -> None:
            group.leave(leaving)  # a socket closed by what an earlier one did
            raise RuntimeError("a stand-in socket failure")

    failing = FailingSink(log, 0)
    for sink in (failing, leaving, staying):
        group.sinks[sink] = "1"
    other = ExecutionGroup(fan, BoardChannel, "2", (*document, "2"), op)
    other_sink = RecordingSink(log, 3)
    other.sinks[other_sink] = "2"
    patch = _patch_of(1, _card(7, "a"))
    ExecutionGroup.deliver_all([group, other], patch)
    assert (leaving.patches, staying.patches, other_sink.patches) == ([], [patch], [patch])
