"""A minimal ``graphql-transport-ws`` client that counts the bytes of every frame it receives.

Frames are parsed as JSON (as a browser client would) and their raw sizes kept, so the figures are
the bytes on the wire of the websocket payloads (frame headers excluded).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")

BOARD_SUBSCRIPTION = """subscription Stream($boardId: ID!) {
  boardChannel(boardId: $boardId) {
    cursor
    reset
    ready
    records {
      __typename
      ... on Board { id title owner settings labels columns }
      ... on BoardUser { id username }
      ... on BoardSettings { id theme }
      ... on Label { id name color }
      ... on Column { id title position cards }
      ... on Card {
        id title description position estimate dueAt column assignee creator labels comments reminders
        commentCount
      }
      ... on Comment { id text createdAt author }
      ... on Reminder { id text owner }
    }
    deleted { type id }
    notifications
  }
}"""

SAVE_CARD = (
    "mutation($b: ID!, $id: ID!, $data: CardInput!) "
    "{ boardChannelSaveCard(boardId: $b, id: $id, data: $data) { ok code } }"
)


@dataclass
class Received:
    """What one operation received: events and the bytes of their frames."""

    events: list[dict[str, Any]] = field(default_factory=list)
    frame_bytes: int = 0
    records: int = 0


class BenchClient:
    """One websocket; operations are awaited one at a time (no background reader)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self._ids = itertools.count(1)

    async def connect(self, token: str) -> BenchClient:
        """Open the socket and authenticate with a DRF token."""
        self.ws = await connect(self.url, subprotocols=[PROTOCOL], max_size=None, ping_interval=None)
        init = {"type": "connection_init", "payload": {"authorization": f"Token {token}"}}
        await self.ws.send(json.dumps(init))
        while True:
            message = json.loads(await self.ws.recv())
            if message["type"] == "connection_ack":
                return self

    async def start(self, query: str, variables: dict[str, Any]) -> str:
        """Send ``subscribe``; returns the operation id."""
        assert self.ws is not None
        op = str(next(self._ids))
        payload = {"query": query, "variables": variables}
        await self.ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        return op

    async def read_until(self, op: str, *, ready: bool = True, complete: bool = False) -> Received:
        """Read frames of ``op`` until an event with ``ready`` true (or until ``complete``)."""
        assert self.ws is not None
        received = Received()
        while True:
            raw = await self.ws.recv()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "ping":
                await self.ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("id") != op:
                continue
            received.frame_bytes += len(raw.encode() if isinstance(raw, str) else raw)
            if kind == "error":
                raise RuntimeError(f"operation error: {message}")
            if kind == "complete":
                return received
            payload = message["payload"]
            if payload.get("errors"):
                raise RuntimeError(f"GraphQL errors: {payload['errors']}")
            (event,) = payload["data"].values()
            received.events.append(event)
            if not complete and ready and isinstance(event, dict) and event.get("ready"):
                received.records += sum(len(e.get("records") or []) for e in received.events)
                return received

    async def execute(self, query: str, variables: dict[str, Any]) -> Received:
        """A query or mutation, read up to ``complete``."""
        op = await self.start(query, variables)
        return await self.read_until(op, complete=True)

    async def stop(self, op: str) -> None:
        """``complete`` one operation."""
        assert self.ws is not None
        await self.ws.send(json.dumps({"id": op, "type": "complete"}))

    async def close(self) -> None:
        """Close the socket."""
        if self.ws is not None:
            await self.ws.close()
