"""The ``graphql-transport-ws`` server: one connection per socket, written against raw ASGI.

Channel subscriptions become an :class:`~.fanout.Operation` that subscription.py runs; queries,
mutations and the project's own subscriptions run through strawberry. The server pings, bounds what
each socket may leave unread, and disconnects a consumer too slow to read instead of letting it stall
the others or fill the memory.

Sending: a frame is written at once when nothing is waiting before it, otherwise it joins the socket's
queue, which one task drains. Some ASGI servers (daphne, so ``runserver``) never make
``websocket.send`` wait, they buffer instead; so the bytes the client has not yet read are counted
with pings: bytes sent after the last ping the client answered are unread as far as the server knows.
A ping goes out whenever a quarter of ``SEND_BUFFER_BYTES`` was sent since the last one; beyond
``SEND_BUFFER_BYTES`` unread, a live patch closes the socket with 1013, while a snapshot waits for pongs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

import orjson
from django.conf import settings
from graphql import ExecutionResult, GraphQLError, OperationType
from graphql.language import FieldNode
from strawberry.types import ExecutionResult as StrawberryResult

from rxgraphql import metrics
from rxgraphql.auth import BadCredentials, authenticate
from rxgraphql.conf import rx_settings
from rxgraphql.errors import CloseCode, ErrorCode

from .access import ChannelError, socket_credentials
from .context import RxContext
from .direct_send import DirectWriter, direct_writer
from .documents import current_document, operation, prepare_async, single_root_field
from .fanout import Operation
from .limits import LimitError
from .origins import origin_allowed, request_scheme
from .schema import SchemaIndex, get_schema_index
from .subscription import run_subscription
from .threads import current_request

logger = logging.getLogger("rxgraphql.websocket")

PROTOCOL = "graphql-transport-ws"

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def _headers(scope: dict[str, Any]) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


class Connection:
    def __init__(self, scope: dict[str, Any], send: Send, index: SchemaIndex) -> None:
        conf = rx_settings()
        self.scope = scope
        self.index = index
        self.headers = _headers(scope)
        self._send = send
        self._direct: DirectWriter | None = None  # set once accepted, on a server that allows it
        self._outbox: collections.deque[str] = collections.deque()
        self._flushing: asyncio.Task[None] | None = None
        self._buffer_limit = conf.send_buffer_bytes
        self._queue_limit = conf.send_queue_size
        self._sent_bytes = 0  # every frame handed to the server or queued, in bytes
        self._acked_bytes = 0  # what the client had read when it answered its last ping
        self._pinged_at = 0  # _sent_bytes when the last ping was queued
        self._pings: collections.deque[int] = collections.deque()
        self._read_more = asyncio.Event()
        self._operations: dict[str, asyncio.Task[None]] = {}
        self._closed = False
        self._closing = False
        self._init_received = False
        self.acknowledged = False
        self.context: RxContext | None = None
        self.credentials: tuple[str | None, str | None] = (None, None)
        self._pong = asyncio.Event()
        self._acked = asyncio.Event()

    # -- sending ---------------------------------------------------------------------------------

    @property
    def unread_bytes(self) -> int:
        return self._sent_bytes - self._acked_bytes

    def push(self, frame: str) -> None:
        """Send a live frame; a client that leaves too much unread is disconnected (1013)."""
        if self._closed:
            return
        if self.unread_bytes and self.unread_bytes + len(frame) > self._buffer_limit:
            self._closed_too_slow()
            return
        self._write(frame)

    async def push_wait(self, frame: str) -> None:
        """Send a frame, waiting until the client has read enough (a snapshot only slows its own socket)."""
        while not self._closed and self.unread_bytes and self.unread_bytes + len(frame) > self._buffer_limit:
            if self._pinged_at < self._sent_bytes:
                self._ping()
            self._read_more.clear()
            await self._read_more.wait()
        if not self._closed:
            self._write(frame)

    def push_message(self, message: dict[str, Any]) -> None:
        self.push(orjson.dumps(message).decode())

    def _closed_too_slow(self) -> None:
        if self._closing:
            return
        self._closing = True
        metrics.slow_consumer_closed()
        asyncio.get_running_loop().create_task(
            self.close(CloseCode.TRY_AGAIN_LATER, "Client too slow to receive")
        )

    def _write(self, frame: str) -> None:
        metrics.frame_sent(frame)
        self._sent_bytes += len(frame)
        self._enqueue(frame)
        if self._sent_bytes - self._pinged_at >= self._buffer_limit // 4:
            self._ping()

    def _enqueue(self, frame: str) -> None:
        if self._flushing is None:
            self._send_now(frame)
        elif len(self._outbox) >= self._queue_limit:
            self._closed_too_slow()
        else:
            self._outbox.append(frame)

    def _ping(self) -> None:
        """Ask the client to answer once it has read everything sent so far."""
        if self.acknowledged:
            self._pinged_at = self._sent_bytes
            self._pings.append(self._sent_bytes)
            self._enqueue('{"type":"ping"}')

    def _send_now(self, frame: str) -> None:
        """Write the frame at once (to the transport, or running ``websocket.send``); only if the server
        makes it wait does a task take over."""
        if self._direct is not None and self._direct.write(frame) is not None:
            return
        step = self._send({"type": "websocket.send", "text": frame})
        try:
            waiting = step.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return
        except Exception:
            self._closed = True
            return
        self._flushing = asyncio.get_running_loop().create_task(self._finish(step, waiting))

    async def _finish(self, step: Any, waiting: Any) -> None:
        """Drive a started send to its end as a task would, then send what queued up meanwhile."""
        try:
            while step is not None:
                while True:
                    if waiting is None:
                        await asyncio.sleep(0)
                    else:
                        waiting._asyncio_future_blocking = False
                        await asyncio.wait([waiting])
                    try:
                        waiting = step.send(None)
                    except StopIteration:
                        break
                step = None
                while step is None and self._outbox:
                    started = self._send({"type": "websocket.send", "text": self._outbox.popleft()})
                    try:
                        waiting = started.send(None)  # type: ignore[attr-defined]
                    except StopIteration:
                        continue
                    step = started
        except asyncio.CancelledError:
            if step is not None:
                step.close()
            raise
        except Exception:
            self._closed = True
        finally:
            self._flushing = None

    def _on_pong(self) -> None:
        self._pong.set()
        if self._pings:
            self._acked_bytes = self._pings.popleft()
            self._read_more.set()

    async def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._read_more.set()
        for task in self._operations.values():
            task.cancel()
        if self._flushing is not None:
            self._flushing.cancel()
        with contextlib.suppress(Exception):
            # A plain int: ASGI servers check the type (daphne's autobahn refuses an IntEnum member).
            await self._send({"type": "websocket.close", "code": int(code), "reason": reason})

    # -- lifecycle -------------------------------------------------------------------------------

    async def serve(self, receive: Receive) -> None:
        current_request.set(self)  # the handshake's share of the sync threads; each operation has its own
        offered = self.scope.get("subprotocols") or []
        scheme = request_scheme(self.scope, self.headers)
        if not origin_allowed(self.headers.get("origin"), self.headers.get("host"), scheme):
            await self._send({"type": "websocket.close", "code": int(CloseCode.FORBIDDEN)})
            return
        if PROTOCOL not in offered:
            await self._send({"type": "websocket.accept"})
            await self._send(
                {
                    "type": "websocket.close",
                    "code": int(CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE),
                    "reason": "Subprotocol not acceptable",
                }
            )
            return
        await self._send({"type": "websocket.accept", "subprotocol": PROTOCOL})
        self._direct = direct_writer(self._send)
        metrics.socket_opened(self, lambda: len(self._outbox))
        helpers = [asyncio.create_task(self._watchdog())]
        max_frame = rx_settings().max_frame_bytes
        try:
            while not self._closed:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message["type"] != "websocket.receive":
                    continue
                text = message.get("text")
                if len(text if text is not None else message.get("bytes") or b"") > max_frame:
                    await self.close(CloseCode.MESSAGE_TOO_BIG, "Message too big (MAX_FRAME_BYTES)")
                    break
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
            if self._flushing is not None:
                helpers.append(self._flushing)
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
            if not self._pings:
                self._ping()
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
            self._on_pong()
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
        self.credentials = (authorization, morsel.value if morsel else None)
        try:
            user = await authenticate(*self.credentials)
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
        limit = rx_settings().max_subscriptions
        if len(self._operations) >= limit:
            message_text = f"This socket already runs {limit} operations (MAX_SUBSCRIPTIONS)"
            self.send_errors(op_id, [LimitError("MAX_SUBSCRIPTIONS", message_text)])
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

    def _opens_its_channels(self, op: Any) -> bool:
        selections = op.selection_set.selections
        return all(
            isinstance(field, FieldNode) and field.name.value in self.index.channel_mutations
            for field in selections
        )

    async def current_user(self) -> Any:
        """The socket's user as its credentials stand now (None when they were revoked)."""
        try:
            user = await authenticate(*self.credentials)
        except BadCredentials:
            return None
        assert self.context is not None
        if user.pk != self.context.user.pk:
            return None  # signed out, or the session now belongs to someone else
        return user

    async def _run(self, op_id: str, payload: dict[str, Any]) -> None:
        current_request.set(object())
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
        prepared = await prepare_async(schema._schema, query)
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
            subscribed = Operation(
                connection=self,
                id=op_id,
                schema=schema._schema,
                query=str(query),
                document=prepared.document,
                variables=variables,
                operation_name=operation_name,
                context=self.context,
            )
            await run_subscription(subscribed, channel_cls)
            return
        if op.operation is OperationType.MUTATION and self._opens_its_channels(op):
            # Each action or write authenticates these credentials again with its permission check.
            socket_credentials.set((*self.credentials, self.context.user.pk))
        elif op.operation is OperationType.MUTATION:
            user = await self.current_user()
            if user is None:
                refusal = ChannelError("Your credentials were revoked", ErrorCode.FORBIDDEN)
                self.push_message(
                    {"id": op_id, "type": "next", "payload": {"data": None, "errors": [refusal.formatted]}}
                )
                self.send_complete(op_id)
                return
            self.context.user = user
        current_document.set(prepared)
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
