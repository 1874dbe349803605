"""The example's strawberry-django API on the live server, beside the channels in one schema.

``cards`` (filters, ordering, offset pagination) and ``profile`` are ``strawberry_django`` fields with its
permission extension (``IsAuthenticated``); the schema runs strawberry-django's optimizer extension
(``RXGRAPHQL["EXTENSIONS"]``). Queried over HTTP and over the websocket, as the generated client does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from board.models import Card, Label
from pytest_django.fixtures import Settings

from tests.support.live import LiveClient
from tests.support.live_server import LiveServer
from tests.support.world import BoardWorld

CARDS = """
query Cards($filters: CardFilter, $ordering: [CardOrder!]! = [], $pagination: OffsetPaginationInput) {
  cards(filters: $filters, ordering: $ordering, pagination: $pagination) {
    totalCount
    pageInfo { offset limit }
    results {
      id title estimate
      column { id title board { id title } }
      assignee { username }
      labels { name }
    }
  }
}
"""

PROFILE = "query { profile { username boardCount isStaff } }"


def post(server: LiveServer, query: str, variables: dict[str, Any], token: str | None) -> Any:
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = httpx.post(
        server.graphql_url, json={"query": query, "variables": variables}, headers=headers, timeout=10
    )
    return response.json()


def titles(body: Any) -> list[str]:
    assert body.get("errors") is None, body
    return [card["title"] for card in body["data"]["cards"]["results"]]


def test_search_finds_only_cards_of_boards_the_user_may_open(
    board_world: BoardWorld, rx_server: LiveServer
) -> None:
    """bob belongs to board A only: the free-text search never returns board B's cards."""
    bob = board_world.token(board_world.bob)
    everything = post(rx_server, CARDS, {"ordering": [{"title": "ASC"}]}, bob)
    assert titles(everything) == ["Fix login", "Ship", "Write spec"]
    assert everything["data"]["cards"]["totalCount"] == 3
    assert titles(post(rx_server, CARDS, {"filters": {"search": "idea"}}, bob)) == []
    dave = board_world.token(board_world.dave)
    assert titles(post(rx_server, CARDS, {"filters": {"search": "idea"}}, dave)) == ["Idea 1"]


def test_filters_ordering_and_pagination(board_world: BoardWorld, rx_server: LiveServer) -> None:
    """Free text (title or description), a lookup, a board, the order and one page of it."""
    alice = board_world.token(board_world.alice)
    by_description = post(rx_server, CARDS, {"filters": {"search": "ALL OF"}}, alice)
    assert titles(by_description) == ["Write spec"]
    [spec] = by_description["data"]["cards"]["results"]
    assert spec["estimate"] == "3.50"
    assert spec["column"]["title"] == "Todo"
    assert spec["column"]["board"] == {"id": str(board_world.board_a.pk), "title": "Roadmap"}
    assert spec["assignee"] == {"username": "bob"}
    assert sorted(label["name"] for label in spec["labels"]) == ["bug", "feature"]

    estimated = {"estimate": {"gte": "1.00"}, "board": str(board_world.board_a.pk)}
    ordered = [{"estimate": "DESC"}]
    assert titles(post(rx_server, CARDS, {"filters": estimated, "ordering": ordered}, alice)) == [
        "Write spec",
        "Ship",
    ]
    page = post(
        rx_server,
        CARDS,
        {"ordering": [{"title": "DESC"}], "pagination": {"offset": 1, "limit": 2}},
        alice,
    )
    assert titles(page) == ["Ship", "Idea 1"]
    assert page["data"]["cards"]["totalCount"] == 4
    assert page["data"]["cards"]["pageInfo"] == {"offset": 1, "limit": 2}


def test_a_page_is_capped_at_the_configured_maximum(board_world: BoardWorld, rx_server: LiveServer) -> None:
    """``STRAWBERRY_DJANGO["PAGINATION_MAX_LIMIT"]`` bounds what one request can read."""
    column = board_world.board_a.columns.get(title="Done")
    Card.objects.bulk_create(Card(column=column, title=f"Bulk {n:03}", position=n) for n in range(105))
    body = post(rx_server, CARDS, {"pagination": {"limit": 1000}}, board_world.token(board_world.bob))
    assert len(titles(body)) == 100
    assert body["data"]["cards"]["totalCount"] == 108


def test_the_permission_extension_refuses_anonymous_visitors(
    board_world: BoardWorld, rx_server: LiveServer
) -> None:
    """``IsAuthenticated(fail_silently=False)``: an error naming the reason, and no data."""
    for query in (CARDS, PROFILE):
        body = post(rx_server, query, {}, None)
        assert body["data"] is None, body
        assert [error["message"] for error in body["errors"]] == ["User is not authenticated."]


def test_profile_is_the_token_user(board_world: BoardWorld, rx_server: LiveServer) -> None:
    """strawberry-django's ``resolve_current_user`` reads the user rxgraphql authenticated."""
    body = post(rx_server, PROFILE, {}, board_world.token(board_world.dave))
    assert body == {"data": {"profile": {"username": "dave", "boardCount": 1, "isStaff": False}}}


def test_over_the_websocket_the_same_rules_hold(
    board_world: BoardWorld, ws_client: Callable[[], LiveClient]
) -> None:
    """The generated client sends queries over the socket: the user of ``connection_init`` is used."""
    bob = ws_client().connect(board_world.token(board_world.bob))
    answer = bob.execute(CARDS, {"ordering": [{"position": "ASC"}, {"title": "ASC"}]})
    assert answer.get("errors") is None, answer
    in_order = [card["title"] for card in answer["data"]["cards"]["results"]]
    assert in_order == ["Ship", "Write spec", "Fix login"]
    assert bob.execute(PROFILE)["data"]["profile"]["username"] == "bob"

    anonymous = ws_client().connect(None)
    refused = anonymous.execute(PROFILE)
    assert refused["data"] is None
    assert refused["errors"][0]["message"] == "User is not authenticated."


@pytest.fixture
def board_queries(settings: Settings, caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The SQL statements on the board's tables the server has run (from every thread) since the last call.

    Django logs each statement to ``django.db.backends`` while DEBUG is on.
    """
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG, logger="django.db.backends")

    def take() -> list[str]:
        statements = [
            str(record.sql)
            for record in caplog.records
            if record.name == "django.db.backends" and '"board_' in str(getattr(record, "sql", ""))
        ]
        caplog.clear()
        return statements

    return take


def test_the_optimizer_reads_a_page_in_a_constant_number_of_queries(
    board_world: BoardWorld, rx_server: LiveServer, board_queries: Callable[[], list[str]]
) -> None:
    """Columns and assignees are joined, boards (filtered by ``BoardType.get_queryset``) and labels
    prefetched: three cards or twelve, the same four queries."""
    bob = board_world.token(board_world.bob)
    board_queries()
    assert len(titles(post(rx_server, CARDS, {}, bob))) == 3
    few = board_queries()

    todo = board_world.board_a.columns.get(title="Todo")
    bug = Label.objects.get(board=board_world.board_a, name="bug")
    for n in range(9):
        card = Card.objects.create(column=todo, title=f"More {n}", position=10 + n, assignee=board_world.bob)
        card.labels.add(bug)
    board_queries()
    body = post(rx_server, CARDS, {}, bob)
    assert len(titles(body)) == 12
    assert all(card["assignee"] == {"username": "bob"} for card in body["data"]["cards"]["results"][3:])
    many = board_queries()

    assert len(many) == len(few), many
    # The count, the page (joining column and assignee), the boards of the page, the labels of the page.
    assert len(many) == 4, many
    page = next(sql for sql in many if "board_card" in sql and "LIMIT" in sql)
    assert "JOIN" in page
    assert '"board_column"' in page
    assert '"auth_user"' in page
