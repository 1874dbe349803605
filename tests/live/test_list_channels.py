"""List channels over a real websocket: the example's ``myBoardsChannel`` (a ``many=True`` state).

Every test rebuilds the list from the events alone and compares it with the serializer's output for the
boards in the announced order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from board.models import Board
from board.serializers import BoardSummarySerializer

from rxgraphql.capture import wait_propagated
from rxgraphql.notices import broadcast_system_message
from tests.support.aio import LoopThread
from tests.support.gql_ws import Subscription
from tests.support.live import LiveClient, deleted_keys
from tests.support.world import BoardWorld, make_user

ClientFactory = Callable[[], LiveClient]

SUBSCRIPTION = """
subscription { myBoardsChannel { cursor reset ready anchors notifications deleted { type id }
  records { __typename
    ... on BoardSummary { id title owner members }
    ... on BoardUser { id username } } } }
"""
QUERY = "{ myBoardsChannel { id title owner { id username } members { id username } } }"
HIDE = "mutation($id: Int!) { myBoardsChannelHide(boardId: $id) }"
SHOW = "mutation($id: Int!, $atStart: Boolean!) { myBoardsChannelShow(boardId: $id, atStart: $atStart) }"
HIDE_ALL = "mutation { myBoardsChannelHideAll }"

Key = tuple[str, str]


class ListWatcher:
    """A ``myBoardsChannel`` subscription and the list rebuilt from its events."""

    def __init__(self, aio: LoopThread, sub: Subscription) -> None:
        self.aio = aio
        self.sub = sub
        self.records: dict[Key, dict[str, Any]] = {}
        self.anchors: list[str] = []
        self.events: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []

    def next(self) -> dict[str, Any]:
        event: dict[str, Any] = self.aio.run(self.sub.next_event(), 15)
        self.events.append(event)
        self.pending.append(event)
        if event["ready"]:  # a transaction ends: apply it whole
            for part in self.pending:
                self._apply(part)
            self.pending = []
        return event

    def _apply(self, event: dict[str, Any]) -> None:
        if event["reset"]:
            self.records.clear()
        for record in event["records"]:
            self.records[(record["__typename"], str(record["id"]))] = record
        for key in deleted_keys(event):
            self.records.pop(key, None)
        if event["anchors"] is not None:
            self.anchors = [str(anchor) for anchor in event["anchors"]]

    def ready(self) -> list[dict[str, Any]]:
        events = [self.next()]
        while not events[-1]["ready"]:
            events.append(self.next())
        return events

    def until(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        events = [self.next()]
        while not predicate(events[-1]):
            events.append(self.next())
        return events

    def _user(self, user_id: Any) -> dict[str, Any] | None:
        user = self.records.get(("BoardUser", str(user_id)))
        return None if user is None else {"id": str(user["id"]), "username": user["username"]}

    def nested(self) -> list[dict[str, Any]]:
        """The list as the client rebuilds it; an anchor whose record is missing is left out."""
        out = []
        for anchor in self.anchors:
            board = self.records.get(("BoardSummary", anchor))
            if board is None:
                continue
            members = [self._user(m) for m in board["members"]]
            out.append(
                {
                    "id": str(board["id"]),
                    "title": board["title"],
                    "owner": self._user(board["owner"]),
                    "members": [m for m in members if m is not None],
                }
            )
        return out


def expected(board_ids: list[Any]) -> list[dict[str, Any]]:
    """The serializer's output for these boards, in this order, ids as strings."""
    boards = {board.pk: board for board in Board.objects.filter(pk__in=board_ids)}
    data = BoardSummarySerializer([boards[int(pk)] for pk in board_ids], many=True).data
    return [
        {
            "id": str(item["id"]),
            "title": item["title"],
            "owner": {"id": str(item["owner"]["id"]), "username": item["owner"]["username"]},
            "members": [{"id": str(m["id"]), "username": m["username"]} for m in item["members"]],
        }
        for item in data
    ]


def watch(client: LiveClient) -> ListWatcher:
    return ListWatcher(client.aio, client.subscribe(SUBSCRIPTION))


def _ids(*boards: Board) -> list[str]:
    return [str(board.pk) for board in boards]


def test_snapshot_lists_the_users_boards_in_order(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    alice = watch(ws_client().connect(world.token(world.alice)))
    events = alice.ready()
    assert events[0]["reset"] is True
    assert all(event["cursor"] == "" for event in events)
    # by title: "Roadmap" (A) then "Side project" (B)
    assert alice.anchors == _ids(world.board_a, world.board_b)
    assert alice.nested() == expected(alice.anchors)
    # alice owns both boards: her record travels once per anchor at most, and is held by both
    bob = watch(ws_client().connect(world.token(world.bob)))
    bob.ready()
    assert bob.anchors == _ids(world.board_a)
    assert bob.nested() == expected(bob.anchors)
    carol = watch(ws_client().connect(world.token(world.carol)))
    carol.ready()
    assert (carol.anchors, carol.records) == ([], {})


def test_query_field_returns_the_nested_list(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    payload = client.execute(QUERY)
    assert "errors" not in payload, payload
    assert payload["data"]["myBoardsChannel"] == expected(_ids(world.board_a, world.board_b))


def test_anonymous_users_are_refused(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    client = ws_client().connect(None)
    payload = client.aio.run(client.subscribe(SUBSCRIPTION).next_payload(), 15)
    assert payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_patches_of_every_listed_anchor_arrive(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    alice = watch(ws_client().connect(world.token(world.alice)))
    alice.ready()
    world.board_b.title = "Side project, renamed"
    world.board_b.save()
    alice.until(lambda e: any(r["title"] == "Side project, renamed" for r in e["records"] if "title" in r))
    assert alice.nested() == expected(alice.anchors)
    # a user shown by both anchors changes: the list shows the new name
    world.alice.username = "alice2"
    world.alice.save()
    alice.until(lambda e: any(r.get("username") == "alice2" for r in e["records"]))
    assert alice.nested() == expected(alice.anchors)


def test_a_record_another_anchor_holds_is_not_deleted(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    world.board_a.members.add(world.dave)  # dave: member of A and of B
    alice = watch(ws_client().connect(world.token(world.alice)))
    alice.ready()
    dave = ("BoardUser", str(world.dave.pk))
    assert dave in alice.records

    world.board_a.members.remove(world.dave)  # A's stream deletes dave; B still shows him
    event = alice.until(lambda e: any(str(r["id"]) == str(world.board_a.pk) for r in e["records"]))[-1]
    assert dave not in deleted_keys(event)
    assert dave in alice.records
    assert alice.nested() == expected(alice.anchors)

    world.board_b.members.remove(world.dave)  # now nobody holds him
    event = alice.until(lambda e: dave in deleted_keys(e))[-1]
    assert dave not in alice.records
    assert alice.nested() == expected(alice.anchors)


def test_remove_add_and_clear(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    alice = watch(client)
    alice.ready()
    a, b = world.board_a.pk, world.board_b.pk

    assert client.execute(HIDE, {"id": a}) == {"data": {"myBoardsChannelHide": True}}
    event = alice.next()
    assert event["anchors"] == _ids(world.board_b)
    # A's board and bob (only on A) go; alice (owner of B too) stays
    assert ("BoardSummary", str(a)) in deleted_keys(event)
    assert ("BoardUser", str(world.bob.pk)) in deleted_keys(event)
    assert ("BoardUser", str(world.alice.pk)) not in deleted_keys(event)
    assert alice.nested() == expected([b])
    assert client.execute(HIDE, {"id": a}) == {"data": {"myBoardsChannelHide": False}}

    assert client.execute(SHOW, {"id": a, "atStart": False}) == {"data": {"myBoardsChannelShow": True}}
    alice.ready()
    assert alice.anchors == _ids(world.board_b, world.board_a)
    assert alice.nested() == expected([b, a])
    # already listed: nothing happens
    assert client.execute(SHOW, {"id": a, "atStart": True}) == {"data": {"myBoardsChannelShow": False}}

    client.execute(HIDE, {"id": a})
    alice.next()
    client.execute(SHOW, {"id": a, "atStart": True})
    alice.ready()
    assert alice.anchors == _ids(world.board_a, world.board_b)
    assert alice.nested() == expected([a, b])

    # a board that is not the user's is refused by the action
    other = Board.objects.create(title="Not alice's", owner=world.carol)
    payload = client.execute(SHOW, {"id": other.pk, "atStart": False})
    assert payload["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    assert client.execute(HIDE_ALL) == {"data": {"myBoardsChannelHideAll": True}}
    event = alice.next()
    assert event["anchors"] == []
    assert alice.records == {}

    # the removed anchors' patches no longer arrive: the next event is the one of the re-shown board.
    # A record of B changes (dave is only on B), not B's own row: with Meta.auto_update a save of a
    # board alice may see would list it again.
    world.dave.username = "not-streamed"
    world.dave.save()
    assert wait_propagated(10)  # the save is decided on before the show, whatever the capture's delay
    client.execute(SHOW, {"id": a, "atStart": False})
    event = alice.ready()[-1]
    assert event["anchors"] == _ids(world.board_a)
    assert all(r.get("username") != "not-streamed" for e in alice.events[-2:] for r in e["records"])


def test_list_changes_need_a_live_subscription(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    client = ws_client().connect(world.token(world.alice))
    payload = client.execute(HIDE, {"id": world.board_a.pk})
    assert payload["errors"][0]["extensions"]["code"] == "NOT_SUBSCRIBED"


def test_auto_update_adds_and_removes_after_commit(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    carol = watch(ws_client().connect(world.token(world.carol)))
    carol.ready()
    assert carol.anchors == []

    # a board carol may not see: is_visible says no, nothing reaches her
    hidden = Board.objects.create(title="Hidden from carol", owner=world.alice)
    # she becomes a member: the board is added at the end with its records
    world.board_a.members.add(world.carol)
    event = carol.until(lambda e: e["anchors"] is not None)[-1]
    assert event["anchors"] == _ids(world.board_a)
    assert carol.nested() == expected([world.board_a.pk])

    own = Board.objects.create(title="Carol's own", owner=world.carol)
    carol.until(lambda e: e["anchors"] is not None)
    assert carol.anchors == _ids(world.board_a, own)
    assert carol.nested() == expected([world.board_a.pk, own.pk])

    world.board_a.members.remove(world.carol)
    carol.until(lambda e: e["anchors"] is not None)
    assert carol.anchors == _ids(own)
    assert ("BoardSummary", str(world.board_a.pk)) not in carol.records
    assert carol.nested() == expected([own.pk])

    own.delete()
    carol.until(lambda e: e["anchors"] is not None)
    assert carol.anchors == []
    assert carol.records == {}
    assert all(str(hidden.pk) not in (e["anchors"] or []) for e in carol.events)


def test_auto_update_ignores_changes_inside_a_rolled_back_transaction(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    from django.db import transaction

    world = board_world
    carol = watch(ws_client().connect(world.token(world.carol)))
    carol.ready()

    class Abort(Exception):
        pass

    try:
        with transaction.atomic():
            Board.objects.create(title="Never committed", owner=world.carol)
            raise Abort
    except Abort:
        pass
    committed = Board.objects.create(title="Committed", owner=world.carol)
    carol.until(lambda e: e["anchors"] is not None)
    assert carol.anchors == _ids(committed)  # the first list change is the committed board


def test_system_messages_reach_a_list_subscription_once(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    alice = watch(ws_client().connect(world.token(world.alice)))
    carol = watch(ws_client().connect(world.token(world.carol)))
    alice.ready()
    carol.ready()
    assert (len(alice.anchors), len(carol.anchors)) == (2, 0)
    broadcast_system_message("maintenance", "soon")
    message = [{"type": "system", "source": "maintenance", "message": "soon"}]
    assert alice.next()["notifications"] == message
    assert carol.next()["notifications"] == message  # a list of no anchor gets it too
    # the next event is the rename below, not a second copy of the message
    world.board_a.title = "After the message"
    world.board_a.save()
    assert alice.next()["notifications"] == []


def test_several_users_lists_stay_apart(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    erin, token = make_user("erin")
    erin_list = watch(ws_client().connect(token))
    bob_list = watch(ws_client().connect(world.token(world.bob)))
    erin_list.ready()
    bob_list.ready()
    board = Board.objects.create(title="Erin's", owner=erin)
    erin_list.until(lambda e: e["anchors"] is not None)
    assert erin_list.anchors == _ids(board)
    world.board_a.title = "Roadmap 2"
    world.board_a.save()
    bob_list.until(lambda e: any(r.get("title") == "Roadmap 2" for r in e["records"]))
    # bob never saw erin's board
    assert all(str(board.pk) not in (e["anchors"] or []) for e in bob_list.events)
