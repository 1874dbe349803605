"""Synchronous handles on live websocket clients, used from sync test functions.

Each ``Watcher`` couples one subscription with the reference ``FlatState`` its events
build, so a test can write with the ORM, wait for the resulting event and compare the
rebuilt tree with the serializer output in two lines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tests.support.aio import LoopThread
from tests.support.gql_ws import DEFAULT_TIMEOUT, GraphQLWsClient, Message, Subscription
from tests.support.rebuild import (
    BOARD_SUBSCRIPTION,
    BOARD_TREE,
    CHAT_SUBSCRIPTION,
    CHAT_TREE,
    FlatState,
    RecordKey,
    Tree,
)

Event = dict[str, Any]


def record_keys(event: Mapping[str, Any]) -> set[RecordKey]:
    """(type, id) of every record an event upserts."""
    return {(record["__typename"], str(record["id"])) for record in event["records"]}


def deleted_keys(event: Mapping[str, Any]) -> set[RecordKey]:
    """(type, id) of every ref an event deletes."""
    return {(ref["type"], str(ref["id"])) for ref in event["deleted"]}


def find_record(event: Mapping[str, Any], type_name: str, record_id: object) -> Event | None:
    """The record of that type and id in the event, if any."""
    for record in event["records"]:
        if record["__typename"] == type_name and str(record["id"]) == str(record_id):
            found: Event = record
            return found
    return None


class Watcher:
    """A live subscription and the state rebuilt from every event it received."""

    def __init__(
        self, aio: LoopThread, sub: Subscription, tree: Tree, root_type: str, root_id: object
    ) -> None:
        self.aio = aio
        self.sub = sub
        self.root_type = root_type
        self.root_id = root_id
        self.state = FlatState(tree)
        self.events: list[Event] = []

    def next(self, timeout: float = DEFAULT_TIMEOUT) -> Event:
        """Await the next event, apply it and return it."""
        event = self.aio.run(self.sub.next_event(within=timeout), timeout + 5)
        self.state.apply(event)
        self.events.append(event)
        return event

    def message(self, timeout: float = DEFAULT_TIMEOUT) -> Message:
        """Await the next raw protocol message of this operation (not applied)."""
        return self.aio.run(self.sub.next_message(within=timeout), timeout + 5)

    def ready(self, timeout: float = DEFAULT_TIMEOUT) -> list[Event]:
        """Apply events up to the one with ``ready: true`` and return them."""
        events = [self.next(timeout)]
        while not events[-1]["ready"]:
            events.append(self.next(timeout))
        return events

    def until(self, predicate: Callable[[Event], bool], timeout: float = DEFAULT_TIMEOUT) -> list[Event]:
        """Apply events until one satisfies ``predicate``; return them all."""
        events = [self.next(timeout)]
        while not predicate(events[-1]):
            events.append(self.next(timeout))
        return events

    def tree(self) -> Any:
        """The nested tree rebuilt from the events so far."""
        return self.state.nested(self.root_type, self.root_id)

    def history(self, key: RecordKey) -> list[str]:
        """What each event did to one record: a failure message's evidence."""
        lines: list[str] = []
        for index, event in enumerate(self.events):
            flags = f"reset={event['reset']} ready={event['ready']}"
            if key in deleted_keys(event):
                lines.append(f"#{index} {flags}: deleted")
            record = find_record(event, *key)
            if record is not None:
                lines.append(f"#{index} {flags}: upserted {record}")
        return lines

    @property
    def cursor(self) -> str:
        """Cursor of the last event received."""
        cursor: str = self.events[-1]["cursor"]
        return cursor

    def stop(self) -> None:
        """Complete the subscription."""
        self.aio.run(self.sub.complete())


class LiveClient:
    """One websocket connection, driven synchronously."""

    def __init__(self, aio: LoopThread, ws_url: str) -> None:
        self.aio = aio
        self.client = GraphQLWsClient(ws_url)

    def connect(self, token: str | None) -> LiveClient:
        """Open the socket and authenticate with a DRF token (or anonymously)."""
        self.aio.run(self.client.connect(token))
        return self

    def subscribe(self, query: str, variables: Mapping[str, Any] | None = None) -> Subscription:
        """Start a raw operation."""
        return self.aio.run(self.client.subscribe(query, variables))

    def watch_board(self, board_id: object, since: str | None = None) -> Watcher:
        """Subscribe to ``boardChannel``."""
        variables: dict[str, Any] = {"boardId": str(board_id)}
        if since is not None:
            variables["since"] = since
        sub = self.subscribe(BOARD_SUBSCRIPTION, variables)
        return Watcher(self.aio, sub, BOARD_TREE, "Board", board_id)

    def resume_board(self, previous: Watcher) -> Watcher:
        """Subscribe again with ``since`` and keep the state the previous watcher built."""
        watcher = self.watch_board(previous.root_id, since=previous.cursor)
        watcher.state.records = dict(previous.state.records)
        return watcher

    def watch_room(self, room_id: object) -> Watcher:
        """Subscribe to ``chatRoomChannel``."""
        sub = self.subscribe(CHAT_SUBSCRIPTION, {"roomId": str(room_id)})
        return Watcher(self.aio, sub, CHAT_TREE, "ChatRoom", room_id)

    def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Run a query or mutation over the socket; return its payload."""
        return self.aio.run(self.client.execute(query, variables))

    def wait_closed(self, timeout: float = DEFAULT_TIMEOUT) -> int | None:
        """Wait until the server closes the socket; return the close code."""
        return self.aio.run(self.client.wait_closed(within=timeout), timeout + 5)

    def close(self) -> None:
        """Close the socket."""
        self.aio.run(self.client.close())

    @property
    def violations(self) -> list[str]:
        """Protocol violations seen by the reader."""
        return self.client.violations
