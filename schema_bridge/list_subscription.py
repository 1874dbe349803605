"""A list channel's subscription on one socket: the states of several anchors as one stream, in order.

Each listed anchor is joined like a single channel's (its execution group, its feed), and the
subscription merges their patches. Records two anchors share reach the client once and leave it only
when no listed anchor holds them any more: the subscription counts, per record, the anchors holding
it, and drops a deletion while another anchor still holds the record. The anchor order travels in
``anchors`` with the first snapshot and with every change of the list (``add_instance``,
``remove_instance``, ``clear``, ``Meta.auto_update``). Changes of the list are applied one at a time.

Cursors of different anchors do not compare, so list events carry an empty cursor and a list
subscription always starts from a full snapshot.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from channels.db import database_sync_to_async
from graphql import DocumentNode
from strawberry.utils.str_converters import to_camel_case

from rxgraphql import feeds, metrics
from rxgraphql.backends import Patch
from rxgraphql.conf import rx_settings
from rxgraphql.membership import membership
from rxgraphql.notices import Notice
from rxgraphql.ownership import snapshot_owners, visible_to
from rxgraphql.records import TYPENAME, Record, RecordKey

from .access import ChannelError, list_anchors, open_channel
from .channel_session import WebsocketChannelSession, runtime_root
from .documents import operation, root_arguments
from .fanout import ExecutionGroup, event, fanout, transaction
from .revocation import Guard, guards
from .subscription import ChannelSink, push_events, refuse, since_variables, watch_access

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

    from .websocket import Connection

logger = logging.getLogger("rxgraphql.lists")


class AnchorSink(ChannelSink):
    """One listed anchor's end of its execution group: hands live patches to the list subscription."""

    def __init__(self, owner: ListSubscription, anchor: str) -> None:
        super().__init__(owner.connection, owner.op_id)
        self.owner = owner
        self.anchor = anchor
        self.group: ExecutionGroup | None = None

    def forward(self, payload: str, patch: Patch) -> None:
        self.owner.forward(self, payload, patch)

    def forward_notice(self, payload: str, notice: Notice) -> None:
        self.owner.forward_notice(payload, notice)


class ListSubscription:
    """One list channel's operation on a socket: the listed anchors in order, the records each of them
    holds for this subscriber, and the events of the list itself."""

    def __init__(
        self,
        connection: Connection,
        op_id: str,
        channel: ContextChannel,
        query: str,
        document: DocumentNode,
        variables: dict[str, Any],
        operation_name: str | None,
        ignored_variables: frozenset[str],
    ) -> None:
        self.connection = connection
        self.op_id = op_id
        self.channel = channel
        self.channel_cls = type(channel)
        self.query = query
        self.document = document
        self.variables = variables
        self.operation_name = operation_name
        self.ignored_variables = ignored_variables
        self.prefix = '{"id":' + orjson.dumps(op_id).decode() + ',"type":"next","payload":'
        self.schema = connection.index.schema._schema
        assert connection.context is not None
        # Renders the subscription's own events (the anchor order, removals, runtime state).
        self.renderer = ExecutionGroup(
            fanout,
            self.channel_cls,
            None,
            ("list", op_id),
            self.schema,
            document,
            variables,
            operation_name,
            connection.context,
        )
        self.layers = {layer.type_name: layer for layer in self.channel_cls._meta.layers}
        self.order: list[str] = []
        self.sinks: dict[str, AnchorSink] = {}
        self.held: dict[str, set[RecordKey]] = {}
        self.holders: collections.Counter[RecordKey] = collections.Counter()
        self.lock = asyncio.Lock()
        self.started = False
        self.live = False
        self.recent_notices: collections.deque[Notice] = collections.deque(maxlen=32)
        self.stop_system: Callable[[], None] | None = None

    # -- what the channel's session needs ----------------------------------------------------------------

    @property
    def anchors(self) -> list[str]:
        return self.order

    def frame(self, payload: str) -> str:
        return self.prefix + payload + "}"

    def cursor(self) -> str:
        return ""

    # -- the anchors ---------------------------------------------------------------------------------------

    def _key(self, record: Record) -> RecordKey:
        type_name = record[TYPENAME]
        return type_name, str(record[self.layers[type_name].pk_field])

    def _join(self, anchor: str) -> AnchorSink:
        sink = AnchorSink(self, anchor)
        assert self.connection.context is not None
        sink.group = fanout.join(
            self.channel_cls,
            anchor,
            self.schema,
            self.query,
            self.document,
            self.variables,
            self.operation_name,
            self.connection.context,
            sink,
            ignored_variables=self.ignored_variables,
        )
        self.sinks[anchor] = sink
        return sink

    def _leave(self, anchor: str) -> list[RecordKey]:
        """Stop following ``anchor``; the keys no listed anchor holds any more."""
        sink = self.sinks.pop(anchor, None)
        if sink is not None and sink.group is not None:
            fanout.leave(sink.group, sink)
        released = []
        for key in self.held.pop(anchor, set()):
            self.holders[key] -= 1
            if self.holders[key] <= 0:
                del self.holders[key]
                released.append(key)
        return released

    def _hold(self, anchor: str, key: RecordKey) -> None:
        held = self.held.setdefault(anchor, set())
        if key not in held:
            held.add(key)
            self.holders[key] += 1

    async def _read(self, anchor: str) -> tuple[list[Record], tuple[str, int]] | None:
        """The anchor's records for this user (joining it first, so no patch is missed); None if gone."""
        sink = self._join(anchor)
        found = await feeds.snapshot(self.channel_cls, anchor, None)
        if found is None:
            self._leave(anchor)
            return None
        records = found.records
        if self.channel_cls._meta.per_user:
            assert sink.group is not None
            owners = snapshot_owners(records, sink.group.layers)
            records, _ = visible_to(records, [], sink.user_id, owners, {}, sink.group.layers)
        for record in records:
            self._hold(anchor, self._key(record))
        return records, (found.epoch, found.version)

    async def _send(
        self, records: list[Record], deleted: list[RecordKey], reset: bool, runtime: bool
    ) -> None:
        """One transaction: batches with ``ready: false``, then the last with the anchor order."""
        roots = transaction(records, deleted, "", reset, rx_settings().snapshot_batch_size)
        roots[-1]["anchors"] = list(self.order)
        if runtime:
            roots[0] = runtime_root(self.channel, roots[0])
        await push_events(self.connection, self.frame, self.renderer.render, roots)

    async def start(self) -> None:
        """The first snapshot: every anchor's records as one transaction, then the live patches.

        Before it, ``order`` holds ``list_instances()``'s anchors as ``on_connect`` may have changed them.
        """
        async with self.lock:
            self.started = True
            records: list[Record] = []
            cursors: dict[str, tuple[str, int]] = {}
            for anchor in list(self.order):
                found = await self._read(anchor)
                if found is None:
                    self.order.remove(anchor)
                    continue
                records.extend(found[0])
                cursors[anchor] = found[1]
            await self._send(records, [], True, self.channel.runtime_state is not None)
            self.live = True
            # System messages reach the subscription even while it lists no anchor.
            self.stop_system = feeds.hub.listen_system(self._system_notice)
            for anchor, (epoch, version) in cursors.items():
                self.sinks[anchor].go_live(epoch, version)

    async def add_anchor(self, anchor: str, at_start: bool) -> bool:
        if not self.started:
            if anchor in self.order:
                return False
            self.order.insert(0 if at_start else len(self.order), anchor)
            return True
        async with self.lock:
            if anchor in self.sinks:
                return False
            found = await self._read(anchor)
            if found is None:
                return False
            self.order.insert(0 if at_start else len(self.order), anchor)
            await self._send(found[0], [], False, False)
            self.sinks[anchor].go_live(*found[1])
            return True

    async def remove_anchor(self, anchor: str) -> bool:
        if not self.started:
            if anchor not in self.order:
                return False
            self.order.remove(anchor)
            return True
        async with self.lock:
            if anchor not in self.sinks:
                return False
            released = self._leave(anchor)
            self.order.remove(anchor)
            await self._send([], released, False, False)
            return True

    async def clear_anchors(self) -> None:
        if not self.started:
            self.order = []
            return
        async with self.lock:
            released: list[RecordKey] = []
            for anchor in list(self.sinks):
                released.extend(self._leave(anchor))
            self.order = []
            await self._send([], released, False, False)

    async def reconsider(self, rows: dict[str, Any]) -> None:
        """``Meta.auto_update``: add the saved anchors ``is_visible`` accepts, remove the others."""
        for anchor, row in rows.items():
            visible = row is not None and bool(await database_sync_to_async(self.channel.is_visible)(row))
            if visible:
                await self.add_anchor(anchor, at_start=False)
            else:
                await self.remove_anchor(anchor)

    def close(self) -> None:
        if self.stop_system is not None:
            self.stop_system()
        for anchor in list(self.sinks):
            self._leave(anchor)

    # -- live patches --------------------------------------------------------------------------------------

    def forward(self, sink: AnchorSink, payload: str, patch: Patch) -> None:
        """Send one anchor's patch, keeping deletions of records another listed anchor still holds."""
        held = self.held.get(sink.anchor)
        if held is None or sink.group is None:
            return  # left meanwhile
        keys = [self._key(record) for record in patch.records]
        deleted: list[RecordKey] = []
        changed = patch.reset
        gone = held - set(keys) if patch.reset else set(patch.deleted)
        for key in gone:
            if key in held:
                held.discard(key)
                self.holders[key] -= 1
                if self.holders[key] > 0:
                    changed = True
                    continue
                del self.holders[key]
                deleted.append(key)
            elif self.holders[key] > 0:
                changed = True
            else:
                deleted.append(key)
        for key in keys:
            self._hold(sink.anchor, key)
        if changed:
            if not patch.records and not deleted:
                return
            payload = sink.group.render(event("", False, True, patch.records, deleted))
        self.connection.push(self.frame(payload))

    def _system_notice(self, notice: Notice) -> None:
        if not any(seen is notice for seen in self.recent_notices):
            root = event("", False, True, [], [])
            root["notifications"] = [notice.payload]
            self.forward_notice(self.renderer.render(root), notice)

    def forward_notice(self, payload: str, notice: Notice) -> None:
        # A system message reaches every listed anchor's group: send it once.
        if any(seen is notice for seen in self.recent_notices):
            return
        self.recent_notices.append(notice)
        self.connection.push(self.frame(payload))


async def run_list_subscription(
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
        channel, key = await open_channel(channel_cls, connection.context.user, raw)
        anchors = await list_anchors(channel)
    except ChannelError as refusal:
        refuse(connection, op_id, refusal)
        return
    live_key = (channel_cls._meta.channel_name, key)
    connection.context.live_channels[live_key] = channel
    op = operation(document, operation_name)
    assert op is not None
    subscription = ListSubscription(
        connection, op_id, channel, query, document, variables, operation_name, since_variables(op)
    )
    subscription.order = anchors
    session = WebsocketChannelSession(channel, subscription.renderer, subscription)
    channel._session = session
    channel._list_session = subscription
    guard = Guard(connection, channel)
    guards.add(guard)
    metrics.subscription_opened(channel_cls._meta.channel_name, connection)
    try:
        if channel_cls._meta.auto_update:
            await membership.join(channel_cls, subscription)
        await channel.on_connect(since if isinstance(since, str) else None)
        await subscription.start()
        await watch_access(guard, lambda: None)  # live until access is lost, the client completes or leaves
        refuse(
            connection,
            op_id,
            ChannelError("You no longer have permission to watch this channel", "FORBIDDEN"),
        )
    finally:
        guards.remove(guard)
        metrics.subscription_closed(channel_cls._meta.channel_name, connection)
        if channel_cls._meta.auto_update:
            membership.leave(channel_cls, subscription)
        subscription.close()
        if connection.context.live_channels.get(live_key) is channel:
            del connection.context.live_channels[live_key]
        await session.close()
        channel._session = None
        channel._list_session = None
        await channel.on_disconnect()
