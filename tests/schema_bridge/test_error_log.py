"""Refusals are logged as one line (WARNING for FORBIDDEN, INFO for bad input), real errors with their
traceback: unit checks of the classification, then refusals over a real websocket."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from board.models import Card
from django.core.exceptions import PermissionDenied, ValidationError
from graphql import GraphQLError

from schema_bridge.access import ChannelError
from schema_bridge.error_log import log_error
from tests.support.live import LiveClient
from tests.support.world import BoardWorld, make_room

ClientFactory = Callable[[], LiveClient]
POST = "mutation($room: ID!, $text: String!) { chatRoomChannelPost(roomId: $room, text: $text) { id } }"
SAVE_CARD = (
    "mutation($b: ID!, $id: ID!) "
    '{ boardChannelSaveCard(boardId: $b, id: $id, data: {title: "x"}) { ok code } }'
)
ROOM = "subscription($room: ID!) { chatRoomChannel(roomId: $room) { cursor } }"


def raised(error: Exception) -> GraphQLError:
    """The GraphQLError graphql-core makes of an exception raised in a resolver (with its traceback)."""
    try:
        raise error
    except Exception as caught:
        return GraphQLError(str(caught), path=["someField"], original_error=caught)


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("rxgraphql", "strawberry"))]


@pytest.mark.parametrize(
    ("error", "level", "code"),
    [
        (PermissionError("nope"), logging.WARNING, "FORBIDDEN"),
        (PermissionDenied("nope"), logging.WARNING, "FORBIDDEN"),
        (ChannelError("You do not have permission", "FORBIDDEN"), logging.WARNING, "FORBIDDEN"),
        (ChannelError("A board needs a title", "BAD_REQUEST"), logging.INFO, "BAD_REQUEST"),
        (ChannelError("No such anchor", "NOT_FOUND"), logging.INFO, "NOT_FOUND"),
        (ValueError("not a number"), logging.INFO, "BAD_REQUEST"),
        (ValidationError("too long"), logging.INFO, "BAD_REQUEST"),
    ],
)
def test_a_refusal_is_one_line_without_traceback(
    caplog: pytest.LogCaptureFixture, error: Exception, level: int, code: str
) -> None:
    caplog.set_level(logging.DEBUG)
    log_error(raised(error))
    (record,) = records(caplog)
    assert record.levelno == level
    assert record.exc_info is None
    assert "\n" not in record.getMessage()
    assert record.getMessage().startswith(f"someField refused ({code}): ")


def test_an_invalid_document_is_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log_error(GraphQLError("Cannot query field 'nope' on type 'Query'."))
    (record,) = records(caplog)
    assert (record.levelno, record.exc_info) == (logging.INFO, None)
    assert "GRAPHQL_VALIDATION_FAILED" in record.getMessage()


def test_a_real_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    log_error(raised(RuntimeError("the database went away")))
    (record,) = records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert record.exc_info[0] is RuntimeError
    assert "Traceback" in caplog.text


def test_refusals_over_the_websocket_are_one_line_each(
    board_world: BoardWorld, ws_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    world = board_world
    room = make_room("logged", world.alice, world.bob)
    caplog.set_level(logging.INFO)
    outsider = ws_client().connect(world.token(world.carol))

    denied = outsider.execute(POST, {"room": str(room.pk), "text": "let me in"})  # action: FORBIDDEN
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    empty = ws_client().connect(world.token(world.bob)).execute(POST, {"room": str(room.pk), "text": " "})
    assert empty["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    card = Card.objects.filter(column__board=world.board_a).first()
    assert card is not None
    write = outsider.execute(SAVE_CARD, {"b": str(world.board_a.pk), "id": str(card.pk)})  # write: 403
    assert write["data"]["boardChannelSaveCard"]["code"] == 403
    subscription = outsider.subscribe(ROOM, {"room": str(room.pk)})  # subscription: FORBIDDEN
    refused = outsider.aio.run(subscription.next_payload(), 15)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    logged = [(r.levelname, r.getMessage()) for r in records(caplog) if r.levelno >= logging.INFO]
    assert all(r.exc_info is None for r in records(caplog)), caplog.text
    assert not [r for r in records(caplog) if r.levelno >= logging.ERROR], caplog.text
    forbidden = "You do not have permission to watch this channel"
    assert ("WARNING", f"chatRoomChannelPost refused (FORBIDDEN): {forbidden}") in logged
    assert ("INFO", "chatRoomChannelPost refused (BAD_REQUEST): A message cannot be empty") in logged
    writes = [level for level, text in logged if text.startswith("boardChannelSaveCard refused")]
    assert writes == ["WARNING"], logged
    assert ("WARNING", f"subscription refused (FORBIDDEN): {forbidden}") in logged
