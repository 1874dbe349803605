"""A channel subscription on one socket: one lifecycle, for one anchor or for a list of anchors.

:func:`run_subscription` reads top to bottom: ``open`` (the arguments, then the permission), bind the
subscription to its channel instance (``async with channel.live(...)``), ``on_connect``, ``snapshot``,
``go_live``, then live until access is lost or the client completes, and ``close``. The two strategies
differ only in the steps they fill in:

- :class:`SingleAnchor` streams one anchor. A patch that touches the anchor's own row is held, with any
  after it, until the permission was checked again (see revocation.py); a resume (``since``) is served
  from the cursor when the cache still can.
- :class:`AnchorList` (``Meta.state = S(many=True)``) streams the anchors ``list_instances()`` names as
  one stream, in order. Records two anchors share reach the client once and leave it only when no listed
  anchor holds them any more: the subscription counts, per record, the anchors holding it, and drops a
  deletion while another anchor still holds the record. The anchor order travels in ``anchors`` with the
  first snapshot and with every change of the list (``add_instance``, ``remove_instance``, ``clear``,
  ``Meta.auto_update``), applied one at a time. Cursors of different anchors do not compare, so list
  events carry an empty cursor and a list subscription always starts from a full snapshot.

Each anchor is followed by an :class:`AnchorSink` in the anchor's document group (fanout.py), joined
before the anchor's snapshot is read: it buffers the live patches that arrive meanwhile and forwards
only those newer than the snapshot once the snapshot has been sent. The subscription ends with
``FORBIDDEN`` when access is lost.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from graphql.language import FieldNode, OperationDefinitionNode, VariableNode
from strawberry.utils.str_converters import to_camel_case

from rxgraphql import feeds, heap, metrics, offload
from rxgraphql.conf import rx_settings
from rxgraphql.errors import ErrorCode
from rxgraphql.membership import membership
from rxgraphql.records import TYPENAME, Record, RecordKey
from rxgraphql.stream import Event, Notice, Patch, format_cursor, parse_cursor, transaction

from .access import ChannelError, list_anchors, open_channel
from .channel_session import ConsumerGroups
from .documents import operation, root_arguments
from .fanout import Document, ExecutionGroup, Operation, fanout, runtime_value
from .revocation import Guard, guards

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel


async def run_subscription(op: Operation, channel_cls: type[ContextChannel]) -> None:
    """The whole life of one channel subscription, from its ``subscribe`` to its end."""
    opened = await open_subscription(op, channel_cls)
    if opened is None:
        return
    subscription, since = opened
    channel = subscription.channel
    live_key = (channel_cls._meta.channel_name, subscription.key)
    try:
        async with channel.live(subscription):
            # Actions sent on this socket for this anchor run on this subscription's channel instance.
            op.context.live_channels[live_key] = channel
            guards.add(subscription.guard)
            metrics.subscription_opened(channel_cls._meta.channel_name, op.connection)
            try:
                await subscription.open()
                await channel.on_connect(since)
                if not await subscription.snapshot(since):
                    op.refuse(ChannelError("No such anchor", ErrorCode.NOT_FOUND))
                    return
                await watch_access(subscription.guard, subscription.release)
                op.refuse(
                    ChannelError("You no longer have permission to watch this channel", ErrorCode.FORBIDDEN)
                )
            finally:
                guards.remove(subscription.guard)
                metrics.subscription_closed(channel_cls._meta.channel_name, op.connection)
                if op.context.live_channels.get(live_key) is channel:
                    del op.context.live_channels[live_key]
        # Leaving the binding closed the subscription (its groups, its feeds, its channel-layer groups).
    finally:
        await channel.on_disconnect()


async def open_subscription(
    op: Operation, channel_cls: type[ContextChannel]
) -> tuple[Subscription, str | None] | None:
    """The arguments, then the permission: the subscription and its resume cursor, or None (refused)."""
    args, errors = root_arguments(op.schema, op.document, op.variables, op.operation_name)
    if args is None:
        op.send_errors(errors)
        return None
    raw = {a.name: args.get(to_camel_case(a.name)) for a in channel_cls._meta.arguments}
    since = args.get("since")
    try:
        channel, key = await open_channel(channel_cls, op.context.user, raw)
        subscription: Subscription
        if channel_cls._meta.many:
            subscription = AnchorList(op, channel, key, await list_anchors(channel))
        else:
            subscription = SingleAnchor(op, channel, key)
    except ChannelError as refusal:
        op.refuse(refusal)
        return None
    return subscription, since if isinstance(since, str) else None


class AnchorSink:
    """One anchor's end of its document group for one subscription: buffers until it goes live."""

    def __init__(self, subscription: Subscription, anchor: str) -> None:
        self.subscription = subscription
        self.anchor = anchor
        self.group: ExecutionGroup | None = None
        self.live = False
        self.epoch = ""
        self.version = 0
        self.buffer: list[tuple[str, Patch]] = []
        self.notices: list[tuple[str, Notice]] = []

    def push_live(self, payload: str, patch: Patch) -> None:
        if self.live and self.subscription.holds(patch):
            self.live = False
        if not self.live:
            self.buffer.append((payload, patch))
            return
        if patch.epoch == self.epoch and patch.version <= self.version:
            return
        self.epoch, self.version = patch.epoch, patch.version
        self.subscription.forward(self, payload, patch)

    def push_notice(self, payload: str, notice: Notice) -> None:
        if self.live:
            self.subscription.forward_notice(payload, notice)
        else:
            self.notices.append((payload, notice))

    def go_live(self, epoch: str, version: int) -> None:
        """The snapshot up to this cursor was sent: forward what came after it, then the live patches."""
        self.epoch, self.version = epoch, version
        self.live = True
        heap.settle_soon()  # the subscription's objects live as long as it: out of the collector's way
        buffered, self.buffer = self.buffer, []
        for payload, patch in buffered:
            self.push_live(payload, patch)
        notices, self.notices = self.notices, []
        for payload, notice in notices:
            self.subscription.forward_notice(payload, notice)


class Subscription:
    """One channel subscription on a socket, and the session its channel instance talks to while it is
    live (``rxgraphql.session.ChannelSession``): runtime state, channel-layer groups, the anchor list."""

    def __init__(self, op: Operation, channel: ContextChannel, key: str) -> None:
        self.op = op
        self.channel = channel
        self.channel_cls = type(channel)
        self.key = key
        self.sinks: dict[str, AnchorSink] = {}
        self.guard = Guard(op.connection, channel)
        self.consumers = ConsumerGroups(channel)
        definition = operation(op.document, op.operation_name)
        assert definition is not None
        self.ignored_variables = since_variables(definition)

    # -- the steps of the lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Start following what the snapshot needs, before ``on_connect`` runs."""

    async def snapshot(self, since: str | None) -> bool:
        """Send the snapshot, then ``go_live``; False when the anchor does not exist."""
        raise NotImplementedError

    def release(self) -> None:
        """A permission check kept access: let the patches it held through."""

    async def close(self) -> None:
        """The end (by ``channel.live``'s exit): leave every group and the channel-layer groups."""
        heap.released()
        for anchor in list(self.sinks):
            self._leave(anchor)
        await self.consumers.close()

    # -- what the strategies share ---------------------------------------------------------------

    @property
    def live(self) -> bool:
        raise NotImplementedError

    @property
    def document(self) -> Document:
        """Renders the subscription's own events (snapshot, runtime state)."""
        raise NotImplementedError

    def cursor(self) -> str:
        return ""

    def _join(self, anchor: str) -> AnchorSink:
        sink = AnchorSink(self, anchor)
        sink.group = fanout.join(self.op, self.channel_cls, anchor, sink, self.ignored_variables)
        self.sinks[anchor] = sink
        return sink

    def _leave(self, anchor: str) -> None:
        sink = self.sinks.pop(anchor, None)
        if sink is not None and sink.group is not None:
            fanout.leave(sink.group, sink)
            sink.group = None

    async def _send(self, events: list[Event], runtime: bool) -> None:
        """Send a transaction's events in order, waiting for the socket, yielding to the loop between them.

        An event of many records is rendered in a worker thread (``offload``): a 10k-record snapshot would
        otherwise hold the loop for a whole render per event.
        """
        if runtime:
            events[0] = dataclasses.replace(events[0], runtime=runtime_value(self.channel))
        document = self.document
        for number, event in enumerate(events):
            if number:
                await asyncio.sleep(0)
            payload = await offload.sized(len(event.records), document.render, event)
            await self.op.push_wait(payload)

    def holds(self, patch: Patch) -> bool:
        """Whether a live patch must wait for a permission check (the sink then buffers it)."""
        return False

    def forward(self, sink: AnchorSink, payload: str, patch: Patch) -> None:
        self.op.push(payload)

    def forward_notice(self, payload: str, notice: Notice) -> None:
        self.op.push(payload)

    # -- the channel instance's session ----------------------------------------------------------

    async def runtime_changed(self) -> None:
        if not self.live:
            return  # the snapshot's first event carries the runtime state
        event = Event(cursor=self.cursor(), runtime=runtime_value(self.channel))
        await self.op.push_wait(self.document.render(event))

    async def group_add(self, group: str) -> None:
        await self.consumers.add(group)

    async def group_discard(self, group: str) -> None:
        await self.consumers.discard(group)

    @property
    def anchors(self) -> list[str]:
        return list(self.sinks)

    async def add_anchor(self, anchor: str, at_start: bool) -> bool:
        raise TypeError(f"{self.channel_cls.__name__} is not a list channel")

    async def remove_anchor(self, anchor: str) -> bool:
        raise TypeError(f"{self.channel_cls.__name__} is not a list channel")

    async def clear_anchors(self) -> None:
        raise TypeError(f"{self.channel_cls.__name__} is not a list channel")


class SingleAnchor(Subscription):
    """One anchor: its snapshot (or the changes since ``since``), then its live patches."""

    def __init__(self, op: Operation, channel: ContextChannel, anchor: str) -> None:
        super().__init__(op, channel, anchor)
        root = self.channel_cls._meta.layers.root
        self.anchor_key: RecordKey = (root.type_name, anchor)  # patches of this row are held
        self.pk_field = root.pk_field
        self.watching = False  # patches of the anchor's row are held from the end of the snapshot on
        self.held = False
        self.releasing = False

    @property
    def sink(self) -> AnchorSink:
        return self.sinks[self.key]

    @property
    def document(self) -> Document:
        group = self.sink.group
        assert group is not None
        return group

    @property
    def live(self) -> bool:
        return self.key in self.sinks and self.sink.live

    def cursor(self) -> str:
        return format_cursor(self.sink.epoch, self.sink.version)

    async def open(self) -> None:
        self._join(self.key)

    async def snapshot(self, since: str | None) -> bool:
        found = await feeds.snapshot_for(self.channel_cls, self.key, parse_cursor(since), self.op.user_id)
        if found is None:
            return False
        events = transaction(
            records=found.records,
            deleted=found.deleted,
            cursor=found.cursor,
            reset=found.reset,
            size=rx_settings().snapshot_batch_size,
        )
        await self._send(events, self.channel.runtime_state is not None)
        self.go_live(found.epoch, found.version)
        return True

    def go_live(self, epoch: str, version: int) -> None:
        """Forward the patches newer than the snapshot; from now on the anchor's own row is guarded."""
        self.sink.go_live(epoch, version)
        self.watching = True

    def holds(self, patch: Patch) -> bool:
        if not self.watching or self.releasing or not self._touches_anchor(patch):
            return False
        self.held = True
        self.guard.request()
        return True

    def _touches_anchor(self, patch: Patch) -> bool:
        return _touches(patch, self.anchor_key, self.pk_field)

    def release(self) -> None:
        if self.held and self.guard.passed >= self.guard.requested:
            self.held = False
            self.releasing = True  # the held patches were checked: let them through
            try:
                self.sink.go_live(self.sink.epoch, self.sink.version)
            finally:
                self.releasing = False


_touched: tuple[Patch | None, RecordKey, bool] = (None, ("", ""), False)


def _touches(patch: Patch, anchor_key: RecordKey, pk_field: str) -> bool:
    """Whether the patch names the anchor's own row; the subscriptions of one anchor ask it of the same
    patch object one after the other, so the last answer is kept."""
    global _touched
    seen, key, answer = _touched
    if seen is patch and key == anchor_key:
        return answer
    type_name, anchor = anchor_key
    answer = anchor_key in patch.deleted or any(
        record.get(TYPENAME) == type_name and str(record.get(pk_field)) == anchor for record in patch.records
    )
    _touched = (patch, anchor_key, answer)
    return answer


class AnchorList(Subscription):
    """A list channel: the listed anchors in order, the records each of them holds for this subscriber,
    and the events of the list itself."""

    def __init__(self, op: Operation, channel: ContextChannel, key: str, anchors: list[str]) -> None:
        super().__init__(op, channel, key)
        self.own = Document(op)  # the list's own events: the anchor order, removals, runtime state
        self.layers = {layer.type_name: layer for layer in self.channel_cls._meta.layers}
        #: ``list_instances()``'s anchors, as ``on_connect`` may change them before the snapshot.
        self.order = anchors
        self.held: dict[str, set[RecordKey]] = {}
        self.holders: collections.Counter[RecordKey] = collections.Counter()
        self.lock = asyncio.Lock()
        self.started = False
        self._live = False
        self.recent_notices: collections.deque[Notice] = collections.deque(maxlen=32)
        self.stop_system: Callable[[], None] | None = None
        self.membership = False

    @property
    def document(self) -> Document:
        return self.own

    @property
    def live(self) -> bool:
        return self._live

    @property
    def anchors(self) -> list[str]:
        return self.order

    async def open(self) -> None:
        if self.channel_cls._meta.auto_update:
            self.membership = True
            await membership.join(self.channel_cls, self.reconsider)

    async def snapshot(self, since: str | None) -> bool:
        """Every anchor's records as one transaction, then the live patches."""
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
            await self._send_list(records, [], reset=True, runtime=self.channel.runtime_state is not None)
            self.go_live(cursors)  # under the lock: a change of the list waits for it
        return True

    def go_live(self, cursors: dict[str, tuple[str, int]]) -> None:
        self._live = True
        # System messages reach the subscription even while it lists no anchor.
        self.stop_system = feeds.hub.listen_system(self._system_notice)
        for anchor, (epoch, version) in cursors.items():
            self.sinks[anchor].go_live(epoch, version)

    async def close(self) -> None:
        heap.released()
        if self.membership:
            membership.leave(self.channel_cls, self.reconsider)
        if self.stop_system is not None:
            self.stop_system()
        for anchor in list(self.sinks):
            self._release(anchor)
        await self.consumers.close()

    # -- the anchors ---------------------------------------------------------------------------------

    def _key(self, record: Record) -> RecordKey:
        type_name = record[TYPENAME]
        return type_name, str(record[self.layers[type_name].pk_field])

    def _release(self, anchor: str) -> list[RecordKey]:
        """Stop following ``anchor``; the keys no listed anchor holds any more."""
        self._leave(anchor)
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
        self._join(anchor)
        found = await feeds.snapshot_for(self.channel_cls, anchor, None, self.op.user_id)
        if found is None:
            self._release(anchor)
            return None
        for record in found.records:
            self._hold(anchor, self._key(record))
        return found.records, (found.epoch, found.version)

    async def _send_list(
        self, records: list[Record], deleted: list[RecordKey], *, reset: bool, runtime: bool
    ) -> None:
        """One transaction: batches with ``ready: false``, then the last with the anchor order."""
        events = transaction(
            records=records, deleted=deleted, cursor="", reset=reset, size=rx_settings().snapshot_batch_size
        )
        events[-1] = dataclasses.replace(events[-1], anchors=list(self.order))
        await self._send(events, runtime)

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
            await self._send_list(found[0], [], reset=False, runtime=False)
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
            released = self._release(anchor)
            self.order.remove(anchor)
            await self._send_list([], released, reset=False, runtime=False)
            return True

    async def clear_anchors(self) -> None:
        if not self.started:
            self.order = []
            return
        async with self.lock:
            released: list[RecordKey] = []
            for anchor in list(self.sinks):
                released.extend(self._release(anchor))
            self.order = []
            await self._send_list([], released, reset=False, runtime=False)

    async def reconsider(self, rows: dict[str, Any]) -> None:
        """``Meta.auto_update``: add the saved anchors ``is_visible`` accepts, remove the others."""
        for anchor, row in rows.items():
            visible = row is not None and bool(await database_sync_to_async(self.channel.is_visible)(row))
            if visible:
                await self.add_anchor(anchor, at_start=False)
            else:
                await self.remove_anchor(anchor)

    # -- live patches --------------------------------------------------------------------------------

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
            payload = sink.group.render(Event(records=patch.records, deleted=deleted))
        self.op.push(payload)

    def _system_notice(self, notice: Notice) -> None:
        if not any(seen is notice for seen in self.recent_notices):
            self.forward_notice(self.own.render(Event(notifications=[notice.payload])), notice)

    def forward_notice(self, payload: str, notice: Notice) -> None:
        # A system message reaches every listed anchor's group: send it once.
        if any(seen is notice for seen in self.recent_notices):
            return
        self.recent_notices.append(notice)
        self.op.push(payload)


def since_variables(op: OperationDefinitionNode) -> frozenset[str]:
    field = op.selection_set.selections[0]
    assert isinstance(field, FieldNode)
    return frozenset(
        arg.value.name.value
        for arg in field.arguments or ()
        if arg.name.value == "since" and isinstance(arg.value, VariableNode)
    )


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
