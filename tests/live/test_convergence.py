"""Random write sequences: every client's rebuilt state must end equal to the serializer.

Fixed seeds make each run reproducible. Two boards take creates, updates, deletes,
reorders, moves across boards and many-to-many changes, some grouped in transactions
and some of those rolled back, while clients join midway, leave and come back.
"""

import random
from collections.abc import Callable

import pytest
from board.models import Board
from django.db import transaction
from pytest_django.fixtures import Settings

from rxgraphql.capture import capture_mode, stop_capture, wait_propagated
from tests.support.live import Event, LiveClient, Watcher, find_record
from tests.support.random_writes import RolledBackError, Writer, run_group
from tests.support.rebuild import MissingRecordError
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]
OPERATIONS = 210


def has_title(board_id: int, title: str) -> Callable[[Event], bool]:
    """Predicate: the event carries the board record with this title."""

    def check(event: Event) -> bool:
        record = find_record(event, "Board", board_id)
        return record is not None and record["title"] == title

    return check


@pytest.fixture
def capture(request: pytest.FixtureRequest, settings: Settings) -> str:
    """The capture mode of the test: the suite's own (triggers, on PostgreSQL) or signals."""
    if request.param == "signals":
        settings.RXGRAPHQL = {**settings.RXGRAPHQL, "CAPTURE": "signals"}
        stop_capture()  # the outbox propagator of earlier tests must not propagate these changes
    assert capture_mode() == request.param
    return str(request.param)


@pytest.mark.parametrize(
    ("seed", "capture"),
    [(1, "triggers"), (2, "triggers"), (3, "triggers"), (1, "signals")],
    indirect=["capture"],
)
def test_random_writes_converge(
    capture: str, board_world: BoardWorld, ws_client: ClientFactory, seed: int
) -> None:
    """After a random sequence, every client's rebuilt board equals the serializer's."""
    world = board_world
    rng = random.Random(seed)
    writer = Writer(rng, world)
    a, b = world.board_a.pk, world.board_b.pk
    watchers: list[Watcher] = []

    owner = ws_client().connect(world.token(world.alice))
    watchers += [owner.watch_board(a), owner.watch_board(b)]
    for watcher in watchers:
        watcher.ready()
    leaver = ws_client().connect(world.token(world.dave))
    leaver.watch_board(b).ready()
    leaver_open = True

    done = 0
    rolled_back = 0
    while done < OPERATIONS:
        if done >= 70 and len(watchers) == 2:
            member = ws_client().connect(world.token(world.bob)).watch_board(a)
            member.ready()  # joins midway and waits for its snapshot
            watchers.append(member)
        if done >= 100 and leaver_open:
            leaver.close()  # leaves for good; a fresh client of the same user joins at 160
            leaver_open = False
        if done >= 140 and len(watchers) == 3:
            # Joins midway without waiting: its snapshot races the writes below.
            watchers.append(ws_client().connect(world.token(world.alice)).watch_board(a))
        if done >= 160 and len(watchers) == 4:
            watchers.append(ws_client().connect(world.token(world.dave)).watch_board(b))

        if rng.random() < 0.15:
            size = rng.randint(2, 4)
            roll_back = rng.random() < 0.3
            try:
                run_group(writer, size, roll_back)
            except RolledBackError:
                rolled_back += 1
            done += size
        else:
            writer.step()
            done += 1

    assert rolled_back > 0
    assert {"card_move", "card_label_add", "card_delete", "column_delete"} <= set(writer.log)

    # The marker must follow every change: a propagation still in flight re-renders the board from a
    # snapshot that may already hold the marker's title, ahead of the changes propagated after it.
    assert wait_propagated(20)
    marker = f"marker-{seed}"
    with transaction.atomic():
        for board in Board.objects.filter(pk__in=[a, b]):
            board.title = marker
            board.save()

    for number, watcher in enumerate(watchers):
        board_id = int(str(watcher.root_id))
        watcher.until(has_title(board_id, marker), timeout=20)
        assert watcher.events[0]["reset"] is True
        context = f"watcher {number} of board {board_id}, seed {seed}"
        try:
            rebuilt = watcher.tree()
        except MissingRecordError as missing:
            key = (missing.type_name, missing.record_id)
            evidence = [f"{context}: {missing}", *watcher.history(key)]
            for holder in watcher.state.referrers(key):
                evidence += [f"referenced by {holder}:", *watcher.history(holder)]
            raise AssertionError("\n".join(evidence)) from None
        assert rebuilt == board_expected(board_id), context
    assert len(watchers) == 5
