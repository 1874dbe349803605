"""Resume with ``since``: a client that missed creates, updates and deletes receives exactly those."""

from collections.abc import Callable

from board.models import Card, Column

from rxgraphql.flusher import flusher
from tests.support.live import LiveClient, deleted_keys, record_keys
from tests.support.world import BoardWorld, board_expected

ClientFactory = Callable[[], LiveClient]


def test_resume_receives_only_what_it_missed(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    board = world.board_a
    client = ws_client().connect(world.token(world.alice))
    first = client.watch_board(board.pk)
    snapshot = first.ready()
    assert sum(len(event["records"]) for event in snapshot) > 10
    first.stop()

    ship = Card.objects.get(title="Ship")
    ship.title = "Shipped"
    ship.save()  # update
    spec = Card.objects.get(title="Write spec")
    doomed = spec.comments.order_by("pk").first()
    assert doomed is not None
    doomed_id = doomed.pk
    doomed.delete()  # delete: the card's comment list changes too
    later = Column.objects.create(board=board, title="Later", position=7)  # create: the board's list changes
    assert flusher.wait_idle(10)  # every missed change is in the cache before the client comes back

    resumed = client.resume_board(first)
    events = resumed.ready()
    assert [event["reset"] for event in events] == [False]
    assert record_keys(events[0]) == {
        ("Card", str(ship.pk)),
        ("Card", str(spec.pk)),
        ("Column", str(later.pk)),
        ("Board", str(board.pk)),
    }
    assert deleted_keys(events[0]) == {("Comment", str(doomed_id))}
    assert resumed.tree() == board_expected(board.pk)


def test_a_cursor_of_another_epoch_gets_a_full_snapshot(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    watcher = client.watch_board(world.board_a.pk, since="0123456789ab.3")
    events = watcher.ready()
    assert events[0]["reset"] is True
    assert watcher.tree() == board_expected(world.board_a.pk)
