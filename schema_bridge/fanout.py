"""Fan-out: subscribers of one anchor with the same document share one execution per patch.

Each patch is executed once per (anchor, document, variables) group and encoded once with orjson; every
subscriber of the group gets the same payload text, framed with its own operation id. On a channel with
per-user records each user has a group of their own, but a patch carrying no per-user record nor a list
of them reads the same for everyone: it is rendered once and that text goes to every user's group.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from graphql import DocumentNode, ExecutionResult, GraphQLSchema, execute

from rxgraphql import metrics
from rxgraphql.backends import Patch
from rxgraphql.feeds import AnchorFeed, format_cursor, hub
from rxgraphql.layers import Layer
from rxgraphql.notices import Notice
from rxgraphql.ownership import snapshot_owners, visible_to
from rxgraphql.records import Record, RecordKey

from .projection import compile_event

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

logger = logging.getLogger("rxgraphql.fanout")


class Sink(Protocol):
    user_id: str | None

    def push_live(self, epoch: str, version: int, payload: str, patch: Patch) -> None:
        """A patch as rendered for the group (``patch``: what it carries, filtered for the group's user)."""

    def push_notice(self, payload: str, notice: Notice) -> None: ...


def event(
    cursor: str, reset: bool, ready: bool, records: list[Record], deleted: list[RecordKey]
) -> dict[str, Any]:
    return {
        "cursor": cursor,
        "reset": reset,
        "ready": ready,
        "records": records,
        "deleted": [{"type": t, "id": i} for t, i in deleted],
        "notifications": [],
    }


def transaction(
    records: list[Record], deleted: list[RecordKey], cursor: str, reset: bool, size: int
) -> list[dict[str, Any]]:
    """The events of one transaction in batches of ``size`` records: ``reset`` and the deletions on the
    first, ``ready`` and the cursor on the last (at least one event)."""
    batches = [records[i : i + size] for i in range(0, len(records), size)] or [[]]
    last = len(batches) - 1
    return [
        event(cursor if n == last else "", reset and n == 0, n == last, batch, deleted if n == 0 else [])
        for n, batch in enumerate(batches)
    ]


def encode_result(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return orjson.dumps(payload).decode()


class ExecutionGroup:
    """One document of one anchor: executes each patch once for all its sinks."""

    def __init__(
        self,
        fanout: FanOut,
        channel_cls: type[ContextChannel],
        user: str | None,
        key: tuple[Any, ...],
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        operation_name: str | None,
        context: Any,
    ) -> None:
        self.fanout = fanout
        self.channel_cls = channel_cls
        self.layers = {layer.type_name: layer for layer in channel_cls._meta.layers}
        self.user = user
        self.key = key
        self.schema = schema
        self.document = document
        self.variables = dict(variables)
        self.operation_name = operation_name
        self.context = context
        self.sinks: set[Sink] = set()
        self.feed: AnchorFeed | None = None
        self.executions = 0
        self.projection = compile_event(schema, document, operation_name)

    def render(self, root: dict[str, Any]) -> str:
        """Execute the document against one event; the flat layer types resolve synchronously.

        Most documents are rendered by their compiled projection (see projection.py), which gives the
        same text; the executor renders the others, and any event the projection refuses.
        """
        self.executions += 1
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

    def notify(self, notice: Notice) -> None:
        """One execution for the notice; only the addressed user's sinks get it when it has a user."""
        sinks = [s for s in self.sinks if notice.user is None or s.user_id == notice.user]
        if not sinks:
            return
        root = event("", False, True, [], [])
        root["notifications"] = [notice.payload]
        payload = self.render(root)
        for sink in sinks:
            sink.push_notice(payload, notice)

    @metrics.traced("rxgraphql.fanout")
    def deliver(self, patch: Patch) -> None:
        if not self.sinks:
            return
        records, deleted = patch.records, patch.deleted
        if self.channel_cls._meta.per_user:
            if self.fanout.same_for_everyone(patch, self.layers):
                self._deliver(patch, self.fanout.shared_payload(self, patch))
                return
            owners = snapshot_owners(records, self.layers) if patch.reset else patch.owners
            records, deleted = visible_to(
                records, deleted, self.user, owners, patch.previous_owners, self.layers
            )
            if not records and not deleted and not patch.reset:
                return  # nothing of this patch is this user's to see
        payload = self.render_live(patch, records, deleted)
        if records is not patch.records or deleted is not patch.deleted:
            patch = dataclasses.replace(patch, records=records, deleted=deleted)
        self._deliver(patch, payload)

    def render_live(self, patch: Patch, records: list[Record], deleted: list[RecordKey]) -> str:
        # A list subscription mixes the patches of several anchors: their cursors do not compare.
        cursor = "" if self.channel_cls._meta.many else format_cursor(patch.epoch, patch.version)
        return self.render(event(cursor, patch.reset, True, records, deleted))

    def _deliver(self, patch: Patch, payload: str) -> None:
        for sink in list(self.sinks):
            sink.push_live(patch.epoch, patch.version, payload, patch)
        metrics.patch_sent(self.channel_cls._meta.channel_name, patch)


class FanOut:
    """The execution groups of this process."""

    def __init__(self) -> None:
        self.groups: dict[tuple[Any, ...], ExecutionGroup] = {}
        # The patch being delivered (a feed hands one patch to all its groups in a row) and what is
        # known of it: whether every user reads it alike, and its payload per document.
        self._patch: Patch | None = None
        self._alike = False
        self._payloads: dict[tuple[Any, ...], str] = {}

    def _current(self, patch: Patch, layers: Mapping[str, Layer]) -> None:
        if patch is not self._patch:
            self._patch = patch
            self._alike = not _carries_per_user_records(patch, layers)
            self._payloads = {}

    def same_for_everyone(self, patch: Patch, layers: Mapping[str, Layer]) -> bool:
        """Whether the patch carries no per-user record, no list of them and no deletion of one."""
        self._current(patch, layers)
        return self._alike

    def shared_payload(self, group: ExecutionGroup, patch: Patch) -> str:
        """The payload of a patch every user reads alike, rendered once per document for every user."""
        self._current(patch, group.layers)
        document = group.key[:-1]  # the group's key without its user
        payload = self._payloads.get(document)
        if payload is None:
            payload = self._payloads[document] = group.render_live(patch, patch.records, patch.deleted)
        return payload

    def join(
        self,
        channel_cls: type[ContextChannel],
        anchor: str,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        variables: Mapping[str, Any],
        operation_name: str | None,
        context: Any,
        sink: Sink,
        ignored_variables: frozenset[str] = frozenset(),
    ) -> ExecutionGroup:
        """Add a sink to the group of its document; ``ignored_variables`` only matter to the snapshot."""
        shared = {k: v for k, v in variables.items() if k not in ignored_variables}
        # Per-user records: each user gets their own execution of each patch.
        user = sink.user_id if channel_cls._meta.per_user else None
        key = (
            channel_cls._meta.channel_name,
            anchor,
            query,
            operation_name,
            orjson.dumps(shared, option=orjson.OPT_SORT_KEYS),
            user,
        )
        group = self.groups.get(key)
        if group is None:
            group = ExecutionGroup(
                self, channel_cls, user, key, schema, document, variables, operation_name, context
            )
            self.groups[key] = group
            group.feed = hub.join(channel_cls, anchor, group)
        group.sinks.add(sink)
        return group

    def leave(self, group: ExecutionGroup, sink: Sink) -> None:
        group.sinks.discard(sink)
        if group.sinks:
            return
        if self.groups.get(group.key) is group:
            del self.groups[group.key]
        if group.feed is not None:
            group.feed.remove(group)
            group.feed = None


def _carries_per_user_records(patch: Patch, layers: Mapping[str, Layer]) -> bool:
    if patch.reset or patch.previous_owners:
        return True
    if any(layers[type_name].user_key is not None for type_name, _ in patch.deleted):
        return True
    for record in patch.records:
        layer = layers[record["__typename"]]
        if layer.user_key is not None or any(edge.child.user_key is not None for edge in layer.children):
            return True
    return False


fanout = FanOut()
