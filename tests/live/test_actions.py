"""Channel actions over a real websocket: typed arguments and results, errors, permission at every call."""

from collections.abc import Callable
from decimal import Decimal

from board.models import BoardSettings, Card
from chat.models import Message

from tests.support.live import LiveClient, find_record
from tests.support.world import BoardWorld, make_room, room_expected

ClientFactory = Callable[[], LiveClient]

POST = """
mutation($room: ID!, $text: String!) { chatRoomChannelPost(roomId: $room, text: $text) { id createdAt } }
"""
RENAME = "mutation($board: ID!, $title: String!) { boardChannelRename(boardId: $board, title: $title) }"
THEME = "mutation($board: ID!, $theme: Theme!) { boardChannelSetTheme(boardId: $board, theme: $theme) }"
TOTAL = "mutation($board: ID!) { boardChannelTotalEstimate(boardId: $board) }"


def _code(payload: dict) -> str:
    return str(payload["errors"][0]["extensions"]["code"])


def test_sync_action_returns_its_dataclass_and_its_write_reaches_the_stream(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    room = make_room("actions", world.alice, world.bob)
    client = ws_client().connect(world.token(world.bob))
    watcher = client.watch_room(room.pk)
    watcher.ready()

    payload = client.execute(POST, {"room": str(room.pk), "text": "  hello  "})
    assert "errors" not in payload, payload
    posted = payload["data"]["chatRoomChannelPost"]
    message = Message.objects.get(pk=posted["id"])
    assert (message.text, message.author_id) == ("hello", world.bob.pk)
    assert posted["createdAt"].startswith(message.created_at.isoformat()[:19])

    record = find_record(watcher.next(), "Message", message.pk)
    assert record is not None
    assert record["text"] == "hello"
    assert watcher.tree() == room_expected(room.pk)


def test_async_action_enum_and_decimal(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    board = world.board_a
    client = ws_client().connect(world.token(world.bob))
    watcher = client.watch_board(board.pk)
    watcher.ready()

    assert client.execute(RENAME, {"board": str(board.pk), "title": "Renamed by action"}) == {
        "data": {"boardChannelRename": "Renamed by action"}
    }
    record = find_record(watcher.next(), "Board", board.pk)
    assert record is not None
    assert record["title"] == "Renamed by action"

    assert client.execute(THEME, {"board": str(board.pk), "theme": "DARK"}) == {
        "data": {"boardChannelSetTheme": True}
    }
    assert BoardSettings.objects.get(board=board).theme == "dark"

    Card.objects.filter(column__board=board).update(estimate=Decimal("1.25"))
    cards = Card.objects.filter(column__board=board).count()
    total = client.execute(TOTAL, {"board": str(board.pk)})["data"]["boardChannelTotalEstimate"]
    assert Decimal(total) == Decimal("1.25") * cards
    assert isinstance(total, str)


def test_action_errors_carry_codes_and_the_socket_keeps_serving(
    board_world: BoardWorld, ws_client: ClientFactory
) -> None:
    world = board_world
    room = make_room("errors", world.alice, world.bob)
    client = ws_client().connect(world.token(world.bob))

    empty = client.execute(POST, {"room": str(room.pk), "text": "   "})
    assert empty["data"] is None
    assert _code(empty) == "BAD_REQUEST"
    assert empty["errors"][0]["message"] == "A message cannot be empty"

    outsider = ws_client().connect(world.token(world.carol))
    denied = outsider.execute(POST, {"room": str(room.pk), "text": "let me in"})
    assert _code(denied) == "FORBIDDEN"
    assert not Message.objects.filter(room=room, text="let me in").exists()

    ok = client.execute(POST, {"room": str(room.pk), "text": "still here"})
    assert "errors" not in ok


def test_permission_is_checked_again_at_every_call(board_world: BoardWorld, ws_client: ClientFactory) -> None:
    world = board_world
    room = make_room("revoked", world.alice, world.bob)
    client = ws_client().connect(world.token(world.bob))
    client.watch_room(room.pk).ready()
    assert "errors" not in client.execute(POST, {"room": str(room.pk), "text": "before"})

    room.participants.remove(world.bob)
    refused = client.execute(POST, {"room": str(room.pk), "text": "after"})
    assert _code(refused) == "FORBIDDEN"
    assert not Message.objects.filter(room=room, text="after").exists()
