"""A channel subscription on one socket: permission, snapshot in batches, then the shared live patches.

The subscriber joins the anchor's execution group before the snapshot is read, buffers the live patches
that arrive meanwhile, and forwards only those newer than the snapshot once it has been sent. A patch that
touches the anchor's own row is held, with any after it, until the permission was checked again (see
revocation.py); the subscription ends with ``FORBIDDEN`` when access is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from graphql import DocumentNode, GraphQLError
from graphql.language import FieldNode, OperationDefinitionNode, VariableNode
from strawberry.utils.str_converters import to_camel_case

from rxgraphql import feeds, metrics
from rxgraphql.backends import Patch, Snapshot
from rxgraphql.conf import rx_settings
from rxgraphql.notices import Notice
from rxgraphql.user_resume import UserSnapshot, user_snapshot

from .access import ChannelError, open_channel
from .channel_session import WebsocketChannelSession, runtime_root
from .documents import operation, root_arguments
from .error_log import log_refusal
from .fanout import fanout, transaction
from .revocation import Guard, guards

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

    from .websocket import Connection


class ChannelSink:
    """One operation's end of an execution group: buffers live patches until its snapshot is sent."""

    def __init__(self, connection: Connection, op_id: str) -> None:
        self.connection = connection
        self.prefix = '{"id":' + orjson.dumps(op_id).decode() + ',"type":"next","payload":'
        self.live = False
        self.epoch = ""
        self.version = 0
        self.buffer: list[tuple[str, int, str, Patch]] = []
        self.notices: list[tuple[str, Notice]] = []
        user = connection.context.user if connection.context is not None else None
        self.user_id: str | None = str(user.pk) if user is not None and user.pk is not None else None
        self.anchor_key: tuple[str, str] | None = None  # (root type, anchor): patches of it are held
        self.pk_field = "id"
        self.guard: Guard | None = None
        self.held = False
        self.releasing = False

    def frame(self, payload: str) -> str:
        return self.prefix + payload + "}"

    def cursor(self) -> str:
        return feeds.format_cursor(self.epoch, self.version)

    def push_live(self, epoch: str, version: int, payload: str, patch: Patch) -> None:
        if self.live and self.guard is not None and not self.releasing and self.touches_anchor(patch):
            self.hold()
        if not self.live:
            self.buffer.append((epoch, version, payload, patch))
            return
        if epoch == self.epoch and version <= self.version:
            return
        self.epoch, self.version = epoch, version
        self.forward(payload, patch)

    def forward(self, payload: str, patch: Patch) -> None:
        self.connection.push(self.frame(payload))

    def touches_anchor(self, patch: Patch) -> bool:
        if self.anchor_key is None:
            return False
        type_name, anchor = self.anchor_key
        if (type_name, anchor) in patch.deleted:
            return True
        return any(
            record.get("__typename") == type_name and str(record.get(self.pk_field)) == anchor
            for record in patch.records
        )

    def hold(self) -> None:
        """Keep the live patches back until the permission check the anchor's change asks for."""
        assert self.guard is not None
        self.live = False
        self.held = True
        self.guard.request()

    def release(self) -> None:
        if self.held and self.guard is not None and self.guard.passed >= self.guard.requested:
            self.held = False
            self.releasing = True  # the held patches were checked: let them through
            try:
                self.go_live(self.epoch, self.version)
            finally:
                self.releasing = False

    def push_notice(self, payload: str, notice: Notice) -> None:
        if self.live:
            self.forward_notice(payload, notice)
        else:
            self.notices.append((payload, notice))

    def forward_notice(self, payload: str, notice: Notice) -> None:
        self.connection.push(self.frame(payload))

    def go_live(self, epoch: str, version: int) -> None:
        self.epoch, self.version = epoch, version
        self.live = True
        buffered, self.buffer = self.buffer, []
        for patch_epoch, patch_version, payload, patch in buffered:
            self.push_live(patch_epoch, patch_version, payload, patch)
        notices, self.notices = self.notices, []
        for payload, notice in notices:
            self.forward_notice(payload, notice)


def since_variables(op: OperationDefinitionNode) -> frozenset[str]:
    field = op.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return frozenset(
        arg.value.name.value
        for arg in field.arguments or ()
        if arg.name.value == "since" and isinstance(arg.value, VariableNode)
    )


async def run_channel_subscription(
    connection: Connection,
    op_id: str,
    channel_cls: type[ContextChannel],
    query: str,
    document: DocumentNode,
    variables: dict[str, Any],
    operation_name: str | None,
) -> None:
    schema = connection.index.schema._schema
    args, errors = root_arguments(schema, document, variables, operation_name)
    if args is None:
        connection.send_errors(op_id, errors)
        return
    raw = {a.name: args.get(to_camel_case(a.name)) for a in channel_cls._meta.arguments}
    since = args.get("since")
    assert connection.context is not None
    try:
        channel, anchor = await open_channel(channel_cls, connection.context.user, raw)
    except ChannelError as refusal:
        refuse(connection, op_id, refusal)
        return
    # Actions sent on this socket for this anchor run on this subscription's channel instance.
    live_key = (channel_cls._meta.channel_name, anchor)
    connection.context.live_channels[live_key] = channel
    op = operation(document, operation_name)
    assert op is not None
    sink = ChannelSink(connection, op_id)
    group = fanout.join(
        channel_cls,
        anchor,
        schema,
        query,
        document,
        variables,
        operation_name,
        connection.context,
        sink,
        ignored_variables=since_variables(op),
    )
    session = WebsocketChannelSession(channel, group, sink)
    channel._session = session
    guard = Guard(connection, channel)
    guards.add(guard)
    root = channel_cls._meta.layers.root
    sink.anchor_key = (root.type_name, anchor)
    sink.pk_field = root.pk_field
    metrics.subscription_opened(channel_cls._meta.channel_name, connection)
    try:
        await channel.on_connect(since if isinstance(since, str) else None)
        resume = feeds.parse_cursor(since) if isinstance(since, str) else None
        snapshot: Snapshot | UserSnapshot | None
        if channel_cls._meta.per_user:  # incremental when the changes can be split per user (user_resume.py)
            snapshot = await user_snapshot(channel_cls, anchor, resume, sink.user_id, group.layers)
        else:
            snapshot = await feeds.snapshot(channel_cls, anchor, resume)
        if snapshot is None:
            refuse(connection, op_id, ChannelError("No such anchor", "NOT_FOUND"))
            return
        records = snapshot.records
        deleted = snapshot.deleted
        cursor = feeds.format_cursor(snapshot.epoch, snapshot.version)
        roots = transaction(records, deleted, cursor, snapshot.reset, rx_settings().snapshot_batch_size)
        if channel.runtime_state is not None:
            roots[0] = runtime_root(channel, roots[0])
        await push_events(connection, sink.frame, group.render, roots)
        sink.go_live(snapshot.epoch, snapshot.version)
        sink.guard = guard
        await watch_access(guard, sink.release)
        refuse(
            connection,
            op_id,
            ChannelError("You no longer have permission to watch this channel", "FORBIDDEN"),
        )
    finally:
        guards.remove(guard)
        metrics.subscription_closed(channel_cls._meta.channel_name, connection)
        fanout.leave(group, sink)
        if connection.context.live_channels.get(live_key) is channel:
            del connection.context.live_channels[live_key]
        await session.close()
        channel._session = None
        await channel.on_disconnect()


async def push_events(
    connection: Connection,
    frame: Callable[[str], str],
    render: Callable[[dict[str, Any]], str],
    roots: list[dict[str, Any]],
) -> None:
    """Send a transaction's events in order, waiting for the socket, yielding to the loop between them."""
    for number, root in enumerate(roots):
        if number:
            await asyncio.sleep(0)
        await connection.push_wait(frame(render(root)))


async def watch_access(guard: Guard, release: Callable[[], None]) -> None:
    """Run the guard until access is lost, releasing held patches after each check that kept it."""
    checking = asyncio.create_task(guard.run())
    kept: asyncio.Task[bool] | None = None
    try:
        while True:
            kept = asyncio.create_task(guard.checked.wait())
            done, _ = await asyncio.wait({checking, kept}, return_when=asyncio.FIRST_COMPLETED)
            if checking in done:
                checking.result()
                return
            guard.checked.clear()
            release()
    finally:
        checking.cancel()
        if kept is not None:
            kept.cancel()


def refuse(connection: Connection, op_id: str, refusal: GraphQLError) -> None:
    log_refusal(refusal, where="subscription")
    connection.push_message(
        {"id": op_id, "type": "next", "payload": {"data": None, "errors": [refusal.formatted]}}
    )
    connection.send_complete(op_id)
