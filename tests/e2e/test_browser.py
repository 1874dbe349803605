"""The example app in a real browser: two users live, optimistic writes, a server restart, GraphiQL.

Each test drives one scenario of ``scenarios.mjs`` (Chromium through playwright-core) against a fresh
example server, and leaves its screenshots in ``artifacts/e2e/``.
"""

import json
import urllib.request

import pytest

from .conftest import ExampleServer, run_scenario

pytestmark = pytest.mark.timeout(240)


def test_a_message_posted_by_one_user_appears_live_for_the_other(example_server: ExampleServer) -> None:
    output = run_scenario("chat", example_server)
    assert "screenshot chat-alice-sees-bob.png" in output


def test_a_board_created_in_one_window_joins_the_list_in_the_other(example_server: ExampleServer) -> None:
    output = run_scenario("boards", example_server)
    assert "screenshot boards-list-live.png" in output


def test_a_card_moved_by_one_user_moves_for_the_other(example_server: ExampleServer) -> None:
    output = run_scenario("board", example_server)
    assert "screenshot board-bob-sees-move.png" in output


def test_a_card_dragged_to_another_column_arrives_in_the_other_window(example_server: ExampleServer) -> None:
    output = run_scenario("drag", example_server)
    assert "screenshot drag-bob-sees-card-arrive.png" in output


def test_a_drop_the_server_refuses_rolls_back(example_server: ExampleServer) -> None:
    output = run_scenario("dragrefused", example_server)
    assert "screenshot drag-rolled-back.png" in output


def test_a_card_search_in_the_browser_uses_the_strawberry_django_api(example_server: ExampleServer) -> None:
    output = run_scenario("search", example_server)
    assert "screenshot search-found.png" in output


def test_the_pages_fit_a_phone_screen(example_server: ExampleServer) -> None:
    output = run_scenario("phone", example_server)
    assert "screenshot phone-board.png" in output


def test_an_optimistic_edit_shows_at_once_and_rolls_back_when_refused(example_server: ExampleServer) -> None:
    output = run_scenario("optimistic", example_server)
    assert "screenshot optimistic-rolled-back.png" in output


def test_the_page_reconnects_and_catches_up_after_a_server_restart(example_server: ExampleServer) -> None:
    def write_message(args: dict[str, object]) -> None:
        example_server.write_message(int(str(args["room"])), str(args["author"]), str(args["text"]))

    handlers = {
        "stop": lambda _: example_server.stop(),
        "start": lambda _: example_server.start(),
        "write_message": write_message,
    }
    output = run_scenario("restart", example_server, handlers)
    assert "screenshot restart-caught-up.png" in output


def test_a_reloaded_board_shows_its_last_state_at_once_then_what_changed_meanwhile(
    example_server: ExampleServer,
) -> None:
    def rename_card(args: dict[str, object]) -> None:
        """Rename a card through the server (a mutation over HTTP, as ``author``)."""
        token = _token(example_server, str(args["author"]))
        headers = {"Authorization": f"Token {token}"}
        board = str(args["board"])
        found = _post_json(
            f"{example_server.url}/graphql",
            {
                "query": "query($b: ID!) { boardChannel(boardId: $b) { columns { cards { id title } } } }",
                "variables": {"b": board},
            },
            headers,
        )
        data = found["data"]
        assert isinstance(data, dict), found
        cards = [c for column in data["boardChannel"]["columns"] for c in column["cards"]]
        card_id = next(c["id"] for c in cards if c["title"] == args["title"])
        saved = _post_json(
            f"{example_server.url}/graphql",
            {
                "query": "mutation($b: ID!, $id: ID!, $t: String) "
                "{ boardChannelSaveCard(boardId: $b, id: $id, data: {title: $t}) { ok } }",
                "variables": {"b": board, "id": card_id, "t": str(args["to"])},
            },
            headers,
        )
        assert saved.get("data") == {"boardChannelSaveCard": {"ok": True}}, saved

    output = run_scenario("reload", example_server, {"rename_card": rename_card})
    assert "screenshot reload-from-cache.png" in output
    assert "screenshot reload-caught-up.png" in output


def test_a_revoked_token_is_shown_as_such(example_server: ExampleServer) -> None:
    def revoke_token(args: dict[str, object]) -> None:
        example_server.revoke_token(str(args["user"]))

    output = run_scenario("revoked", example_server, {"revoke_token": revoke_token})
    assert "screenshot revoked-says-so.png" in output


def test_a_message_written_offline_waits_then_is_sent(example_server: ExampleServer) -> None:
    handlers = {"stop": lambda _: example_server.stop(), "start": lambda _: example_server.start()}
    output = run_scenario("offline", example_server, handlers)
    assert "screenshot offline-pending.png" in output
    assert "screenshot offline-sent.png" in output


def test_graphiql_with_local_assets_shows_a_subscription_patch(example_server: ExampleServer) -> None:
    def post_message(args: dict[str, object]) -> None:
        """Post through the example's ``postMessage`` mutation over HTTP, as ``author``."""
        token = _token(example_server, str(args["author"]))
        body = {
            "query": "mutation($roomId: ID!, $text: String!) "
            "{ postMessage(roomId: $roomId, text: $text) { id } }",
            "variables": {"roomId": str(args["room"]), "text": str(args["text"])},
        }
        answer = _post_json(f"{example_server.url}/graphql", body, {"Authorization": f"Token {token}"})
        assert "errors" not in answer, answer

    ide = urllib.request.Request(f"{example_server.url}/graphql", headers={"Accept": "text/html"})
    with urllib.request.urlopen(ide, timeout=30) as response:
        page = response.read().decode()
    assert "unpkg.com" not in page
    assert "/assets/" in page
    output = run_scenario("graphiql", example_server, {"write_message": post_message})
    assert "screenshot graphiql-patch.png" in output


def test_graphiql_tells_how_to_sign_in_and_sends_the_headers_token_to_the_socket(
    example_server: ExampleServer,
) -> None:
    output = run_scenario("graphiqlheaders", example_server)
    assert "screenshot graphiql-anonymous.png" in output
    assert "screenshot graphiql-headers-subscription.png" in output


def _post_json(url: str, body: dict[str, object], headers: dict[str, str] | None = None) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, object] = json.loads(response.read())
    return result


def _token(server: ExampleServer, username: str) -> str:
    return str(_post_json(f"{server.url}/api/token/", {"username": username, "password": "demo"})["token"])
