"""GraphQL over plain HTTP on the live server: GraphiQL, nested queries, auth and mutations."""

from typing import Any

import httpx

from tests.support.live_server import LiveServer
from tests.support.rebuild import BOARD_NESTED_QUERY, BOARD_TREE, normalize_graphql_nested
from tests.support.world import BoardWorld, board_expected


def post(server: LiveServer, query: str, variables: dict[str, Any], token: str | None) -> Any:
    """POST a GraphQL operation as JSON; return the decoded body."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    response = httpx.post(
        server.graphql_url,
        json={"query": query, "variables": variables},
        headers=headers,
        timeout=10,
    )
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def test_graphiql_page(rx_server: LiveServer) -> None:
    """A browser asking for HTML gets GraphiQL."""
    response = httpx.get(rx_server.graphql_url, headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


def test_nested_board_query_with_token(board_world: BoardWorld, rx_server: LiveServer) -> None:
    """The query field of a channel returns the serializer's nested output, camelCased."""
    body = post(
        rx_server,
        BOARD_NESTED_QUERY,
        {"boardId": str(board_world.board_a.pk)},
        board_world.token(board_world.bob),
    )
    assert body.get("errors") is None, body
    nested = normalize_graphql_nested(body["data"]["boardChannel"], BOARD_TREE, "Board")
    assert nested == board_expected(board_world.board_a.pk)


def test_nested_board_query_without_access(board_world: BoardWorld, rx_server: LiveServer) -> None:
    """No token, or a token of an outsider, gives an error and no board."""
    variables = {"boardId": str(board_world.board_a.pk)}
    for token in (None, board_world.token(board_world.carol)):
        body = post(rx_server, BOARD_NESTED_QUERY, variables, token)
        assert body["errors"], body
        assert body["data"] is None or body["data"]["boardChannel"] is None


def test_me_reports_the_token_user(board_world: BoardWorld, rx_server: LiveServer) -> None:
    """Project resolvers see the user of the ``Authorization`` header."""
    query = "query { me }"
    assert post(rx_server, query, {}, board_world.token(board_world.dave)) == {"data": {"me": "dave"}}
    assert post(rx_server, query, {}, None) == {"data": {"me": None}}
