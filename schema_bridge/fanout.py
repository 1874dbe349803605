"""Operations and their document groups: subscribers of one anchor with one document share each rendering.

An :class:`Operation` is one ``subscribe`` of a socket, like strawberry's ``Operation`` in its
graphql-transport-ws handler: one object carries what it names (its socket, id, document, variables
and context) to every stage of the pipeline, and frames the payloads rendered for it. :class:`Socket`
is what the pipeline needs of a connection (websocket.py implements it): frames out, and the user's
credentials as they stand now.

An anchor's feed (rxgraphql/feeds.py) hands each group the patches its user may see; the group renders
each patch once (a :class:`Document` renders an :class:`~rxgraphql.stream.Event` to payload text,
encoded once with orjson) and every subscriber of the group gets the same payload, framed with its own
operation id. On a channel with per-user records each user has a group of their own, but the feed hands
a patch every user reads alike to all of them as one object (``deliver_all``): it is rendered once per
document, and that text is written straight to the sockets of every group idle and small enough to be
reached in one go.

A group of many sockets sends a patch in slices of ``SLICE_SECONDS`` and lets the loop run between them
(other sockets, the probe of a slow reader, the next patch). A patch handed over while the group is
still sending an earlier one is merged (rxgraphql/coalesce.py) into what the sockets not yet reached
get: each of them receives one frame carrying both, and the sockets already reached get the newer
patch alone after them. Under a stream of saves to one anchor a socket so gets one frame per pass over
the group, however many saves arrived meanwhile, and still sees every change in order.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from graphql import DocumentNode, ExecutionResult, GraphQLError, GraphQLSchema, execute

from rxgraphql import metrics
from rxgraphql.coalesce import merge_patches
from rxgraphql.feeds import AnchorFeed, hub
from rxgraphql.records import Record, RecordKey
from rxgraphql.stream import Event, Notice, Patch, format_cursor

from .context import RxContext
from .error_log import log_refusal
from .projection import compile_event
from .python_types import mapped

logger = logging.getLogger("rxgraphql.fanout")

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

#: How long a group sends before it lets the event loop run (checked every ``SLICE_CHECK`` sockets).
SLICE_SECONDS = 0.005
SLICE_CHECK = 32
#: Operation ids whose framed payload is kept while one payload is fanned out (most clients use "1").
FRAMES_KEPT = 64


class Socket(Protocol):
    """The connection an operation's frames go out on."""

    credentials: tuple[str | None, str | None]
    context: RxContext | None

    def push(self, frame: str) -> None:
        """Send a live frame (a client too slow to read it is disconnected)."""

    async def push_wait(self, frame: str) -> None:
        """Send a frame once the client has read enough (a snapshot only slows its own socket)."""

    def push_message(self, message: dict[str, Any]) -> None: ...

    def send_errors(self, op_id: str, errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> None: ...

    def send_complete(self, op_id: str) -> None: ...

    async def current_user(self) -> Any:
        """The socket's user as its credentials stand now (None when they were revoked)."""


@dataclass(eq=False)
class Operation:
    """One subscribe of one socket."""

    connection: Socket
    id: str
    schema: GraphQLSchema
    query: str
    document: DocumentNode
    variables: dict[str, Any]
    operation_name: str | None
    context: RxContext
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        self.prefix = '{"id":' + orjson.dumps(self.id).decode() + ',"type":"next","payload":'

    @property
    def user_id(self) -> str | None:
        """The primary key of the socket's user as the streams spell it; None when anonymous."""
        pk = self.context.user.pk
        return None if pk is None else str(pk)

    def frame(self, payload: str) -> str:
        """The ``next`` message carrying a payload rendered for this operation."""
        return _frames.of(self.prefix, payload)

    def push(self, payload: str) -> None:
        self.connection.push(self.frame(payload))

    async def push_wait(self, payload: str) -> None:
        await self.connection.push_wait(self.frame(payload))

    def send_errors(self, errors: list[GraphQLError] | tuple[GraphQLError, ...]) -> None:
        self.connection.send_errors(self.id, errors)

    def refuse(self, refusal: GraphQLError) -> None:
        """End the operation with one error (``data: null``) and ``complete``."""
        log_refusal(refusal, where="subscription")
        self.connection.push_message(
            {"id": self.id, "type": "next", "payload": {"data": None, "errors": [refusal.formatted]}}
        )
        self.connection.send_complete(self.id)


class _Frames:
    """The ``next`` frames of the payload being fanned out, one per operation id: the sockets whose
    operations share an id share one frame object (and the websocket encodes that once)."""

    def __init__(self) -> None:
        self.payload = ""
        self.frames: dict[str, str] = {}

    def of(self, prefix: str, payload: str) -> str:
        if payload is not self.payload:
            self.payload, self.frames = payload, {}
        frame = self.frames.get(prefix)
        if frame is None:
            frame = prefix + payload + "}"
            if len(self.frames) < FRAMES_KEPT:
                self.frames[prefix] = frame
        return frame


_frames = _Frames()


class Sink(Protocol):
    """One subscription's end of a group, for one anchor."""

    def push_live(self, payload: str, patch: Patch) -> None:
        """A patch (as the group's user may see it) and its payload as rendered for the group."""

    def push_notice(self, payload: str, notice: Notice) -> None: ...


def encode_result(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return orjson.dumps(payload).decode()


def runtime_value(channel: ContextChannel) -> Any:
    """The instance's runtime state as GraphQL renders it; None without ``RuntimeState``."""
    runtime = type(channel).RuntimeState
    if runtime is None:
        return None
    kind = mapped(runtime, f"{type(channel).__name__}RuntimeState")
    return kind.to_graphql(channel.runtime_values())


class Document:
    """A subscription document with its variables, rendering events to payload text."""

    def __init__(self, op: Operation) -> None:
        self.schema = op.schema
        self.document = op.document
        self.variables = dict(op.variables)
        self.operation_name = op.operation_name
        self.context = op.context
        self.executions = 0
        self.projection = compile_event(op.schema, op.document, op.operation_name)

    def render(self, event: Event) -> str:
        """Execute the document against one event; the flat layer types resolve synchronously.

        Most documents are rendered by their compiled projection (see projection.py), which gives the
        same text; the executor renders the others, and any event the projection refuses.
        """
        self.executions += 1
        root = event.root()
        if self.projection is not None:
            try:
                return self.projection(root)
            except Exception:  # Unsupported, or a value only the executor reports properly
                pass
        result = execute(
            self.schema,
            self.document,
            root_value=root,
            context_value=self.context,
            variable_values=self.variables,
            operation_name=self.operation_name,
        )
        if inspect.isawaitable(result):
            result.close()  # type: ignore[attr-defined]
            raise RuntimeError("channel events must resolve synchronously")
        return encode_result(result)


class ExecutionGroup(Document):
    """One document of one anchor (for one user on per-user channels): a listener of the anchor's feed
    that renders each patch once for all its sinks."""

    def __init__(
        self,
        fanout: FanOut,
        channel_cls: type[ContextChannel],
        user: str | None,
        key: tuple[Any, ...],
        op: Operation,
    ) -> None:
        super().__init__(op)
        self.fanout = fanout
        self.channel_cls = channel_cls
        self.user = user
        self.key = key
        self.document_key = key[:-1]  # the key without its user: what groups rendering alike share
        self.channel_name = channel_cls._meta.channel_name
        self.sinks: dict[Sink, str | None] = {}  # each sink with its user (notices may address one)
        self.feed: AnchorFeed | None = None
        # A delivery in progress: the patches handed over since it began (the first at ``_base``),
        # the sinks still to reach in order, and per sink the position of the first patch it lacks.
        self._log: list[Patch] = []
        self._base = 0
        self._queue: deque[Sink] = deque()
        self._lacking: dict[Sink, int] = {}
        self._scheduled = False
        # What a sink lacking the patches from a position on is sent, while the log ends at _prepared_end.
        self._prepared: dict[int, list[tuple[Patch, str]]] = {}
        self._prepared_end = 0

    @property
    def sending(self) -> bool:
        """Whether some sinks still wait for patches already handed to the group."""
        return bool(self._lacking)

    def notify(self, notice: Notice) -> None:
        """One execution for the notice; only the addressed user's sinks get it when it has a user."""
        self.finish()  # the patches before the notice stay before it
        sinks = [sink for sink, user in self.sinks.items() if notice.user is None or user == notice.user]
        if not sinks:
            return
        payload = self.render(Event(notifications=[notice.payload]))
        for sink in sinks:
            sink.push_notice(payload, notice)

    def deliver(self, patch: Patch) -> None:
        if self.sinks:
            metrics.patch_sent(self.channel_name, patch)
            self._enqueue(patch)

    def _enqueue(self, patch: Patch) -> None:
        position = self._base + len(self._log)
        self._log.append(patch)
        for sink in self.sinks:
            if sink not in self._lacking:  # a sink still lacking an earlier patch gets both merged
                self._lacking[sink] = position
                self._queue.append(sink)
        if not self._scheduled:
            self._send(SLICE_SECONDS)

    @staticmethod
    def deliver_all(groups: Sequence[ExecutionGroup], patch: Patch) -> None:
        """Hand one patch object to many groups, as a feed does with a patch several users read alike.

        It is rendered once per document, and its commit-to-send latency observed once per document. A
        group that is idle and small enough to be reached in one go (``SLICE_CHECK`` sinks at most) gets
        it straight: the payload is written to its sinks now, without the log, queue and merge of a
        delivery that may be sliced. On a per-user channel every member has a group of one socket, and
        that bookkeeping cost each of them more than its socket. Any other group takes the patch through
        its queue.
        """
        document: tuple[Any, ...] | None = None
        observed: set[tuple[Any, ...]] = set()
        payload = ""
        for group in groups:
            try:
                sinks = group.sinks
                if not sinks:
                    continue
                if group.document_key != document:
                    document = group.document_key
                    if document not in observed:
                        observed.add(document)
                        metrics.patch_sent(group.channel_name, patch)
                    payload = group.fanout.payload(group, patch)
                if group._lacking or len(sinks) > SLICE_CHECK:
                    group._enqueue(patch)
                    continue
                group._base += 1  # as a delivery that reached every sink leaves it
                for sink in list(sinks):
                    if sink not in sinks:
                        continue  # it left while an earlier sink was written to
                    try:
                        sink.push_live(payload, patch)
                    except Exception:
                        logger.exception("a subscription of %s failed", group.key[1])
            except Exception:
                logger.exception("a group of %s failed", group.key[1])

    def finish(self) -> None:
        """Send everything handed over so far to every sink, now."""
        if self._lacking:
            self._send(None)

    def leave(self, sink: Sink) -> None:
        self.sinks.pop(sink, None)
        self._lacking.pop(sink, None)

    def _continue(self) -> None:
        self._scheduled = False
        self._send(SLICE_SECONDS)

    def _send(self, budget: float | None) -> None:
        """Reach the sinks in order until ``budget`` seconds are spent; the rest in a later slice."""
        started = time.perf_counter()
        end = self._base + len(self._log)
        if self._prepared_end != end:  # a patch was handed over since: every sink lacks it too
            self._prepared, self._prepared_end = {}, end
        prepared = self._prepared
        queue, lacking = self._queue, self._lacking
        reached = 0
        with metrics.frames_batched():
            while queue:
                sink = queue.popleft()
                position = lacking.pop(sink, None)
                if position is None:
                    continue  # it left
                deliveries = prepared.get(position)
                if deliveries is None:
                    deliveries = prepared[position] = self._since(position)
                for patch, payload in deliveries:
                    try:
                        sink.push_live(payload, patch)
                    except Exception:
                        logger.exception("a subscription of %s failed", self.key[1])
                reached += 1
                if (
                    budget is not None
                    and reached % SLICE_CHECK == 0
                    and queue
                    and time.perf_counter() - started > budget
                ):
                    self._scheduled = True
                    asyncio.get_running_loop().call_soon(self._continue)
                    return
        if not lacking:
            self._base = end
            self._log, self._prepared = [], {}

    def _since(self, position: int) -> list[tuple[Patch, str]]:
        """What a sink lacking the patches from ``position`` on gets: them merged, each rendered once."""
        if position == self._base + len(self._log) - 1:  # the newest patch alone (most deliveries)
            patch = self._log[-1]
            return [(patch, self.fanout.payload(self, patch))]
        patches = self._log[position - self._base :]
        if len(patches) > 1:
            layers = {layer.type_name: layer for layer in self.channel_cls._meta.layers}

            def key_of(record: Record) -> RecordKey:
                layer = layers[record["__typename"]]
                return (layer.type_name, str(record[layer.pk_field]))

            patches = merge_patches(patches, key_of)
        return [(patch, self.fanout.payload(self, patch)) for patch in patches]

    def render_live(self, patch: Patch) -> str:
        # A list subscription mixes the patches of several anchors: their cursors do not compare.
        cursor = "" if self.channel_cls._meta.many else format_cursor(patch.epoch, patch.version)
        return self.render(
            Event(cursor=cursor, reset=patch.reset, records=patch.records, deleted=patch.deleted)
        )


class FanOut:
    """The execution groups of this process."""

    def __init__(self) -> None:
        self.groups: dict[tuple[Any, ...], ExecutionGroup] = {}
        # The patch being delivered (a feed hands one patch object to all its groups in a row) and its
        # payload per document, whoever the group's user is.
        self._patch: Patch | None = None
        self._payloads: dict[tuple[Any, ...], str] = {}

    def payload(self, group: ExecutionGroup, patch: Patch) -> str:
        """The patch rendered for the group: once per document for every group handed the same object."""
        if patch is not self._patch:
            self._patch = patch
            self._payloads = {}
        payload = self._payloads.get(group.document_key)
        if payload is None:
            payload = self._payloads[group.document_key] = group.render_live(patch)
        return payload

    def join(
        self,
        op: Operation,
        channel_cls: type[ContextChannel],
        anchor: str,
        sink: Sink,
        ignored_variables: frozenset[str] = frozenset(),
    ) -> ExecutionGroup:
        """Add a sink to the group of its document; ``ignored_variables`` only matter to the snapshot."""
        shared = {k: v for k, v in op.variables.items() if k not in ignored_variables}
        # Per-user records: each user gets their own execution of the patches that carry them.
        user = op.user_id if channel_cls._meta.per_user else None
        key = (
            channel_cls._meta.channel_name,
            anchor,
            op.query,
            op.operation_name,
            orjson.dumps(shared, option=orjson.OPT_SORT_KEYS),
            user,
        )
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = ExecutionGroup(self, channel_cls, user, key, op)
            group.feed = hub.join(channel_cls, anchor, group)
        group.sinks[sink] = op.user_id
        return group

    def leave(self, group: ExecutionGroup, sink: Sink) -> None:
        group.leave(sink)
        if group.sinks:
            return
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
        if group.feed is not None:
            group.feed.remove(group)
            group.feed = None


fanout = FanOut()
