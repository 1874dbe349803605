"""The ``graphql-transport-ws`` server: one connection per socket, written against raw ASGI.

Channel subscriptions go through the shared fan-out; queries, mutations and the project's own
subscriptions run through strawberry. The server pings, bounds each socket's outgoing queue, and
disconnects a consumer too slow to drain it instead of letting it stall the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

import orjson
from django.conf import settings
from graphql import ExecutionResult, GraphQLError, OperationType
from strawberry.types import ExecutionResult as StrawberryResult

from rxgraphql import metrics
from rxgraphql.auth import BadCredentials, authenticate
from rxgraphql.conf import rx_settings

from .context import RxContext
from .documents import operation, prepare, single_root_field
from .list_subscription import run_list_subscription
from .origins import origin_allowed
from .schema import SchemaIndex, get_schema_index
from .subscription import run_channel_subscription

logger = logging.getLogger("rxgraphql.websocket")

PROTOCOL = "graphql-transport-ws"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class CloseCode:
    BAD_REQUEST = 4400
    UNAUTHORIZED = 4401
    FORBIDDEN = 4403
    SUBPROTOCOL_NOT_ACCEPTABLE = 4406
    INIT_TIMEOUT = 4408
    SUBSCRIBER_EXISTS = 4409
    TOO_MANY_INIT = 4429
    GOING_AWAY = 1001
    TRY_AGAIN_LATER = 1013  # the client was too slow to read; it may reconnect and resume


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class Connection:
    def __init__(self, scope: dict[str, Any], send: Send, index: SchemaIndex) -> None:
        conf = rx_settings()
        self.scope = scope
        self.index = index
        self.headers = _headers(scope)
        self._send = send
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=conf.send_queue_size)
        self._operations: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._init_received = False
        self.acknowledged = False
        self.context: RxContext | None = None
        self._pong = asyncio.Event()
        self._acked = asyncio.Event()

    # -- sending ---------------------------------------------------------------------------------

    def push(self, frame: str) -> None:
        """Queue a live frame; a full queue means the client is not reading: disconnect it."""
        if self._closed:
            return
        try:
            self._outbox.put_nowait(frame)
        except asyncio.QueueFull:
            metrics.slow_consumer_closed()
            asyncio.get_running_loop().create_task(
                self.close(CloseCode.TRY_AGAIN_LATER, "Client too slow to receive")
            )

    async def push_wait(self, frame: str) -> None:
        """Queue a frame, waiting for room (a snapshot only slows down its own socket)."""
        if not self._closed:
            await self._outbox.put(frame)

    def push_message(self, message: dict[str, Any]) -> None:
        self.push(orjson.dumps(message).decode())

    async def _writer(self) -> None:
        while True:
            frame = await self._outbox.get()
            await self._send({"type": "websocket.send", "text": frame})
            metrics.frame_sent(frame)

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        for task in self._operations.values():
            task.cancel()
        with contextlib.suppress(Exception):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})

    # -- lifecycle -------------------------------------------------------------------------------

    async def serve(self, receive: Receive) -> None:
        offered = self.scope.get("subprotocols") or []
        if not origin_allowed(self.headers.get("origin"), self.headers.get("host")):
            await self._send({"type": "websocket.close", "code": CloseCode.FORBIDDEN})
            return
        if PROTOCOL not in offered:
            await self._send({"type": "websocket.accept"})
            await self._send(
                {
                    "type": "websocket.close",
                    "code": CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE,
                    "reason": "Subprotocol not acceptable",
                }
            )
            return
        await self._send({"type": "websocket.accept", "subprotocol": PROTOCOL})
        metrics.socket_opened(self, self._outbox.qsize)
        helpers = [
            asyncio.create_task(self._writer()),
            asyncio.create_task(self._watchdog()),
        ]
        try:
            while not self._closed:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                if text is None:
                    raw = message.get("bytes") or b""
                    try:
                        text = raw.decode()
                    except UnicodeDecodeError:
                        await self.close(CloseCode.BAD_REQUEST, "Invalid message received")
                        break
                await self._handle(text)
        finally:
            metrics.socket_closed(self)
            self._closed = True
            operations = list(self._operations.values())
            for task in operations + helpers:
                task.cancel()
            await asyncio.gather(*operations, *helpers, return_exceptions=True)

    async def _watchdog(self) -> None:
        conf = rx_settings()
        try:
            await asyncio.wait_for(self._acked.wait(), conf.connection_init_timeout)
        except TimeoutError:
            await self.close(CloseCode.INIT_TIMEOUT, "Connection initialisation timeout")
            return
        while not self._closed:
            await asyncio.sleep(conf.ping_interval)
            self._pong.clear()
            self.push_message({"type": "ping"})
            try:
                await asyncio.wait_for(self._pong.wait(), conf.pong_timeout)
            except TimeoutError:
                await self.close(CloseCode.GOING_AWAY, "No pong received")
                return

    # -- messages --------------------------------------------------------------------------------

    async def _handle(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self.close(CloseCode.BAD_REQUEST, "Invalid message received")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "connection_init":
            await self._on_init(message.get("payload"))
        elif kind == "ping":
            self.push_message({"type": "pong"})
        elif kind == "pong":
            self._pong.set()
        elif kind == "subscribe":
            await self._on_subscribe(message)
        elif kind == "complete":
            op_id = message.get("id")
            task = self._operations.pop(op_id, None) if isinstance(op_id, str) else None
            if task is not None:
                task.cancel()
        else:
            await self.close(CloseCode.BAD_REQUEST, "Invalid message received")

    async def _on_init(self, payload: Any) -> None:
        if self._init_received:
            await self.close(CloseCode.TOO_MANY_INIT, "Too many initialisation requests")
            return
        self._init_received = True
        params = payload if isinstance(payload, dict) else {}
        authorization = params.get("authorization") or params.get("Authorization")
        if not isinstance(authorization, str):
            authorization = self.headers.get("authorization")
        cookies = SimpleCookie(self.headers.get("cookie", ""))
        morsel = cookies.get(settings.SESSION_COOKIE_NAME)
        try:
            user = await authenticate(authorization, morsel.value if morsel else None)
        except BadCredentials:
            await self.close(CloseCode.FORBIDDEN, "Forbidden")
            return
        self.context = RxContext(user=user, connection_params=params)
        self.acknowledged = True
        self._acked.set()
        self.push_message({"type": "connection_ack"})

    async def _on_subscribe(self, message: dict[str, Any]) -> None:
        if not self.acknowledged:
            await self.close(CloseCode.UNAUTHORIZED, "Unauthorized")
            return
        op_id = message.get("id")
        payload = message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            await self.close(CloseCode.BAD_REQUEST, "Invalid message received")
            return
        if op_id in self._operations:
            await self.close(CloseCode.SUBSCRIBER_EXISTS, f"Subscriber for {op_id} already exists")
            return
        task = asyncio.create_task(self._run(op_id, payload))
        self._operations[op_id] = task
        task.add_done_callback(lambda _t: self._forget(op_id, task))

    def _forget(self, op_id: str, task: asyncio.Task[None]) -> None:
        if self._operations.get(op_id) is task:
            del self._operations[op_id]

    def send_errors(self, op_id: str, errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> None:
        self.push_message({"id": op_id, "type": "error", "payload": [error.formatted for error in errors]})

    def send_result(self, op_id: str, result: ExecutionResult | StrawberryResult) -> None:
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        self.push_message({"id": op_id, "type": "next", "payload": payload})

    def send_complete(self, op_id: str) -> None:
        self.push_message({"id": op_id, "type": "complete"})

    async def _run(self, op_id: str, payload: dict[str, Any]) -> None:
        try:
            await self._execute(op_id, payload)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("operation %s failed", op_id)
            self.send_errors(op_id, [GraphQLError("Internal server error")])

    async def _execute(self, op_id: str, payload: dict[str, Any]) -> None:
        schema = self.index.schema
        query = payload.get("query")
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName")
        if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
            self.send_errors(op_id, [GraphQLError("Invalid variables or operationName")])
            return
        prepared = prepare(schema._schema, query)
        if prepared.document is None:
            self.send_errors(op_id, prepared.errors)
            return
        op = operation(prepared.document, operation_name)
        if op is None:
            self.send_errors(op_id, [GraphQLError("Unknown or ambiguous operation")])
            return
        assert self.context is not None
        root_field = single_root_field(op)
        channel_cls = self.index.channels.get(root_field or "")
        if channel_cls is not None:
            run = run_list_subscription if channel_cls.many else run_channel_subscription
            await run(self, op_id, channel_cls, str(query), prepared.document, variables, operation_name)
            return
        if op.operation is OperationType.SUBSCRIPTION:
            stream = await schema.subscribe(
                str(query),
                variable_values=variables,
                context_value=self.context,
                operation_name=operation_name,
            )
            async for result in stream:
                self.send_result(op_id, result)
        else:
            result = await schema.execute(
                str(query),
                variable_values=variables,
                context_value=self.context,
                operation_name=operation_name,
            )
            self.send_result(op_id, result)
        self.send_complete(op_id)


async def graphql_websocket(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """The ASGI app of the websocket endpoint."""
    await Connection(scope, send, get_schema_index()).serve(receive)
