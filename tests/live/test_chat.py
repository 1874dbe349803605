"""The chat example end to end: a mutation over HTTP shows up live on the room's channel."""

import re
from collections.abc import Callable

import httpx
from chat.models import Message

from tests.support.live import LiveClient, find_record, record_keys
from tests.support.live_server import LiveServer
from tests.support.rebuild import CHAT_TREE, tree_keys
from tests.support.world import BoardWorld, make_room, room_expected

ClientFactory = Callable[[], LiveClient]

POST_MESSAGE = """
mutation Post($roomId: ID!, $text: String!) {
  postMessage(roomId: $roomId, text: $text) { id }
}
"""


def test_posted_message_arrives_as_patch(
    board_world: BoardWorld, rx_server: LiveServer, ws_client: ClientFactory
) -> None:
    """``postMessage`` over HTTP gives a patch with the new ``Message`` record."""
    world = board_world
    room = make_room("lobby", world.alice, world.bob)
    watcher = ws_client().connect(world.token(world.bob)).watch_room(room.pk)
    events = watcher.ready()
    delivered = set().union(*(record_keys(event) for event in events))
    assert tree_keys(room_expected(room.pk), CHAT_TREE, "ChatRoom") <= delivered
    assert watcher.tree() == room_expected(room.pk)

    response = httpx.post(
        rx_server.graphql_url,
        json={"query": POST_MESSAGE, "variables": {"roomId": str(room.pk), "text": "hi bob"}},
        headers={"Authorization": f"Token {world.token(world.alice)}"},
        timeout=10,
    )
    body = response.json()
    assert body.get("errors") is None, body
    message_id = body["data"]["postMessage"]["id"]
    assert Message.objects.get(pk=message_id).text == "hi bob"

    event = watcher.next()
    assert event["reset"] is False
    assert event["ready"] is True
    record = find_record(event, "Message", message_id)
    assert record is not None
    assert record["text"] == "hi bob"
    assert record["author"] == str(world.alice.pk)
    room_record = find_record(event, "ChatRoom", room.pk)
    assert room_record is not None
    assert room_record["messages"][-1] == str(message_id)
    assert watcher.tree() == room_expected(room.pk)


def test_chat_outsider_cannot_post_or_watch(
    board_world: BoardWorld, rx_server: LiveServer, ws_client: ClientFactory
) -> None:
    """Non-participants are refused on both paths and the room does not change."""
    world = board_world
    room = make_room("private", world.alice)
    response = httpx.post(
        rx_server.graphql_url,
        json={"query": POST_MESSAGE, "variables": {"roomId": str(room.pk), "text": "let me in"}},
        headers={"Authorization": f"Token {world.token(world.carol)}"},
        timeout=10,
    )
    assert response.json()["errors"]
    assert not Message.objects.filter(text="let me in").exists()

    watcher = ws_client().connect(world.token(world.carol)).watch_room(room.pk)
    first = watcher.message()
    assert first.kind == "next"
    assert first.payload["data"] is None
    assert first.payload["errors"]


def test_message_saved_in_the_django_admin_arrives_as_patch(
    board_world: BoardWorld, rx_server: LiveServer, ws_client: ClientFactory
) -> None:
    """A staff user adds a message through the admin's form: the room's subscribers get it."""
    world = board_world
    world.alice.is_staff = True
    world.alice.is_superuser = True
    world.alice.save()
    room = make_room("admin-room", world.alice, world.bob)
    watcher = ws_client().connect(world.token(world.bob)).watch_room(room.pk)
    watcher.ready()

    with httpx.Client(base_url=rx_server.url, timeout=10) as browser:
        login_page = browser.get("/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
        assert token is not None
        logged_in = browser.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token.group(1), "username": "alice", "password": "secret"},
        )
        assert logged_in.status_code == 302
        form = browser.get("/admin/chat/message/add/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        saved = browser.post(
            "/admin/chat/message/add/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "room": str(room.pk),
                "author": str(world.alice.pk),
                "text": "from the admin",
            },
        )
        assert saved.status_code == 302, saved.text[:2000]

    message = Message.objects.get(room=room, text="from the admin")
    event = watcher.next()
    record = find_record(event, "Message", message.pk)
    assert record is not None
    assert record["text"] == "from the admin"
    assert watcher.tree() == room_expected(room.pk)
