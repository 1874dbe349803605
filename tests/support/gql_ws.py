"""Minimal asyncio client of the ``graphql-transport-ws`` protocol for the tests.

A test needs to see exactly what the server sends (every ``next``, protocol ``error``s,
``complete`` and close codes), so this client keeps the protocol visible instead of
hiding it the way a full GraphQL client would. One reader task routes server messages
by operation id into per-operation queues and answers ``ping`` with ``pong``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")
DEFAULT_TIMEOUT = 10.0


class ServerClosedError(Exception):
    """The server closed the socket; ``code`` and ``reason`` are what it sent."""

    def __init__(self, code: int | None, reason: str | None) -> None:
        super().__init__(f"websocket closed by the server: code={code} reason={reason!r}")
        self.code = code
        self.reason = reason


class OperationError(Exception):
    """An operation ended with GraphQL errors (protocol ``error`` or ``next`` with errors)."""

    def __init__(self, kind: str, payload: Any) -> None:
        super().__init__(f"operation failed ({kind}): {payload!r}")
        self.kind = kind
        self.payload = payload


class OperationCompletedError(Exception):
    """The server completed an operation while the test still expected a result."""


@dataclass(frozen=True)
class Message:
    """One server message of an operation: ``next``, ``error``, ``complete`` or ``closed``."""

    kind: str
    payload: Any = None


class Subscription:
    """One operation (subscription, query or mutation) on a ``GraphQLWsClient``."""

    def __init__(self, client: GraphQLWsClient, operation_id: str) -> None:
        self.client = client
        self.id = operation_id
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.done = False

    async def next_message(self, within: float = DEFAULT_TIMEOUT) -> Message:
        """The next raw message of this operation; ``TimeoutError`` when none comes in time."""
        async with asyncio.timeout(within):
            message = await self.queue.get()
        if message.kind in {"complete", "error", "closed"}:
            self.done = True
        return message

    async def next_payload(self, within: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The payload of the next ``next`` message, raising on anything else."""
        message = await self.next_message(within)
        if message.kind == "next":
            payload: dict[str, Any] = message.payload
            return payload
        if message.kind == "error":
            raise OperationError("error", message.payload)
        if message.kind == "closed":
            code, reason = message.payload
            raise ServerClosedError(code, reason)
        raise OperationCompletedError(f"operation {self.id} completed")

    async def next_event(self, within: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next result of the operation's single root field, raising on GraphQL errors."""
        payload = await self.next_payload(within)
        if payload.get("errors"):
            raise OperationError("next", payload)
        data = payload["data"]
        (value,) = data.values()
        result: dict[str, Any] = value
        return result

    async def until_ready(self, within: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        """Collect events up to and including the first one with ``ready: true``."""
        events: list[dict[str, Any]] = []
        while True:
            event = await self.next_event(within)
            events.append(event)
            if event["ready"]:
                return events

    async def complete(self) -> None:
        """Tell the server the client is no longer interested in this operation."""
        if not self.done:
            self.done = True
            await self.client.send({"id": self.id, "type": "complete"})


class GraphQLWsClient:
    """A websocket connection speaking ``graphql-transport-ws``.

    Messages that break the protocol (unknown operation ids, unknown types) are kept in
    ``violations`` rather than raised inside the reader, so a test can assert on them.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.ws: ClientConnection | None = None
        self.operations: dict[str, Subscription] = {}
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._ids = itertools.count(1)
        self._ack: asyncio.Future[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self.violations: list[str] = []

    async def connect(self, token: str | None = None, within: float = DEFAULT_TIMEOUT) -> GraphQLWsClient:
        """Open the socket, send ``connection_init`` and wait for ``connection_ack``."""
        self.ws = await connect(self.url, subprotocols=[PROTOCOL], open_timeout=within)
        if self.ws.subprotocol != PROTOCOL:
            raise AssertionError(f"server chose subprotocol {self.ws.subprotocol!r}")
        self._ack = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read())
        payload = {"authorization": f"Token {token}"} if token is not None else {}
        await self.send({"type": "connection_init", "payload": payload})
        async with asyncio.timeout(within):
            await self._ack
        return self

    async def send(self, message: Mapping[str, Any]) -> None:
        """Send one protocol message as JSON."""
        if self.ws is None:
            raise RuntimeError("not connected")
        await self.ws.send(json.dumps(message))

    async def _read(self) -> None:
        """Route every server message until the socket closes."""
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self._route(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            closed = Message("closed", (self.close_code, self.close_reason))
            if self._ack is not None and not self._ack.done():
                self._ack.set_exception(ServerClosedError(self.close_code, self.close_reason))
            for operation in self.operations.values():
                operation.queue.put_nowait(closed)
            self._closed.set()

    def _route(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "connection_ack":
            if self._ack is not None and not self._ack.done():
                self._ack.set_result(None)
        elif kind == "ping":
            asyncio.get_running_loop().create_task(self.send({"type": "pong"}))
        elif kind in {"next", "error", "complete"}:
            operation = self.operations.get(message.get("id", ""))
            if operation is None:
                self.violations.append(f"message for an unknown operation: {message!r}")
            else:
                operation.queue.put_nowait(Message(kind, message.get("payload")))
        elif kind != "pong":
            self.violations.append(f"unexpected server message: {message!r}")

    async def subscribe(self, query: str, variables: Mapping[str, Any] | None = None) -> Subscription:
        """Start an operation; its messages arrive on the returned ``Subscription``."""
        operation = Subscription(self, str(next(self._ids)))
        self.operations[operation.id] = operation
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        await self.send({"id": operation.id, "type": "subscribe", "payload": payload})
        return operation

    async def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        within: float = DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        """Run a query or mutation: return its single ``next`` payload after ``complete``."""
        operation = await self.subscribe(query, variables)
        payload = await operation.next_payload(within)
        message = await operation.next_message(within)
        if message.kind != "complete":
            raise AssertionError(f"expected complete after the result, got {message!r}")
        return payload

    async def wait_closed(self, within: float = DEFAULT_TIMEOUT) -> int | None:
        """Wait for the server to close the socket and return the close code."""
        async with asyncio.timeout(within):
            await self._closed.wait()
        return self.close_code

    async def close(self) -> None:
        """Close the socket (normal closure) and stop the reader."""
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
