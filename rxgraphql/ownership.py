"""Per-user records (``Meta.user_key`` on a layer's serializer): who owns which record of a patch.

A record of a layer whose serializer names a ``user_key`` field reaches only the user whose primary key
that field renders. The write path records, for every patch, the owner of each such record it upserts,
deletes or lists as a child, and the previous owner of records that changed hands or were deleted, so
that each user's stream gets the records it may see, child lists without the ids of others' records, and
deletions only of records it saw.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from .backends.base import AnchorEdit
from .layers import Layer
from .records import Record, RecordKey, child_keys
from .stream import Patch, key_text


def owner_of(record: Record | None, layer: Layer) -> str | None:
    if record is None or layer.user_key is None:
        return None
    value = record.get(layer.user_key)
    return None if value is None else str(value)


class OwnershipTracker:
    """An AnchorEdit wrapper remembering the previous owners of user-keyed records it changes."""

    def __init__(self, edit: AnchorEdit, layers: dict[str, Layer]) -> None:
        self.edit = edit
        self.layers = layers
        self.root = edit.root
        self.previous: dict[str, str] = {}
        self.changed_hands: set[RecordKey] = set()

    def _remember(self, key: RecordKey, new: Record | None = None) -> None:
        layer = self.layers[key[0]]
        if layer.user_key is not None:
            owner = owner_of(self.edit.get(key), layer)
            if owner is not None:
                self.previous.setdefault(key_text(key), owner)
                if new is not None and owner_of(new, layer) != owner:
                    self.changed_hands.add(key)

    def get(self, key: RecordKey) -> Record | None:
        return self.edit.get(key)

    def referrers(self, key: RecordKey) -> Collection[RecordKey]:
        return self.edit.referrers(key)

    def preload(self, keys: Iterable[RecordKey]) -> None:
        self.edit.preload(keys)

    def preload_referrers(self, keys: Iterable[RecordKey]) -> None:
        self.edit.preload_referrers(keys)

    def missing(self, keys: Iterable[RecordKey]) -> list[RecordKey]:
        return self.edit.missing(keys)

    def put(self, key: RecordKey, record: Record, refs: Iterable[RecordKey]) -> None:
        self._remember(key, record)
        self.edit.put(key, record, refs)

    def remove(self, key: RecordKey) -> None:
        self._remember(key)
        self.edit.remove(key)

    def commit(self) -> Patch | None:
        return self.edit.commit()

    def _keyed(self, key: RecordKey) -> bool:
        return self.layers[key[0]].user_key is not None

    def annotate(self, patch: Patch) -> None:
        """Record the owners the fan-out needs to split the patch per user.

        A record that changed hands leaves one user's child lists and enters another's even though the
        lists themselves did not change: its parents are sent again, to be filtered per user.
        """
        present = {(r["__typename"], str(r[self.layers[r["__typename"]].pk_field])) for r in patch.records}
        for key in self.changed_hands:
            for parent in self.edit.referrers(key):
                record = self.edit.get(parent)
                if parent not in present and record is not None:
                    patch.records.append(record)
                    present.add(parent)
        owners: dict[str, str] = {}
        keyed_children = [
            [child for child in child_keys(record, self.layers[record["__typename"]]) if self._keyed(child)]
            for record in patch.records
        ]
        self.edit.preload(child for children in keyed_children for child in children)
        for record, children in zip(patch.records, keyed_children, strict=True):
            layer = self.layers[record["__typename"]]
            own = owner_of(record, layer)
            if own is not None:
                owners[key_text((layer.type_name, str(record[layer.pk_field])))] = own
            for child in children:
                child_owner = owner_of(self.edit.get(child), self.layers[child[0]])
                if child_owner is not None:
                    owners[key_text(child)] = child_owner
        patch.owners = owners
        patch.previous_owners = dict(self.previous)


def snapshot_owners(records: list[Record], layers: Mapping[str, Layer]) -> dict[str, str]:
    """Owners of the user-keyed records of a full snapshot (every child is in it)."""
    owners: dict[str, str] = {}
    for record in records:
        layer = layers[record["__typename"]]
        owner = owner_of(record, layer)
        if owner is not None:
            owners[key_text((layer.type_name, str(record[layer.pk_field])))] = owner
    return owners


def reads_alike(patch: Patch, layers: Mapping[str, Layer]) -> bool:
    """Whether every user reads the patch alike: it carries no per-user record, no list of them and no
    deletion of one (nor is it a reset, whose lists the client takes as they come)."""
    if patch.reset or patch.previous_owners:
        return False
    if any(layers[type_name].user_key is not None for type_name, _ in patch.deleted):
        return False
    for record in patch.records:
        layer = layers[record["__typename"]]
        if layer.user_key is not None or any(edge.child.user_key is not None for edge in layer.children):
            return False
    return True


def users_named(patch: Patch, layers: Mapping[str, Layer]) -> set[str]:
    """The users a patch (which does not read alike) names as owner or former owner of a record.

    Every other signed-in user sees the same part of it (the records and lists that belong to nobody in
    it), so one view serves them all: with a thousand members, a card edit is cut a handful of times,
    not a thousand.
    """
    owners = snapshot_owners(patch.records, layers) if patch.reset else patch.owners
    return {*owners.values(), *patch.previous_owners.values()}


def outsider(named: Collection[str]) -> str:
    """A user id standing for every signed-in user the patch does not name (see ``users_named``)."""
    stand_in = "\x00"
    while stand_in in named:
        stand_in += "\x00"
    return stand_in


def patch_for(patch: Patch, user: str | None, layers: Mapping[str, Layer]) -> Patch | None:
    """The part of a patch (which does not read alike) one user may see; None when nothing of it is
    theirs. The view carries no owners: past this point nobody needs them."""
    owners = snapshot_owners(patch.records, layers) if patch.reset else patch.owners
    records, deleted = visible_to(patch.records, patch.deleted, user, owners, patch.previous_owners, layers)
    if not records and not deleted and not patch.reset:
        return None
    return dataclasses.replace(patch, records=records, deleted=deleted, owners={}, previous_owners={})


def visible_to(
    records: list[Record],
    deleted: list[RecordKey],
    user: str | None,
    owners: Mapping[str, str],
    previous: Mapping[str, str],
    layers: Mapping[str, Layer],
) -> tuple[list[Record], list[RecordKey]]:
    """The part of a patch (or snapshot) one user may see."""
    shown: list[Record] = []
    hidden: list[RecordKey] = []
    for record in records:
        layer = layers[record["__typename"]]
        key = (layer.type_name, str(record[layer.pk_field]))
        if layer.user_key is not None and owner_of(record, layer) != user:
            if previous.get(key_text(key)) == user:
                hidden.append(key)  # it changed hands: it leaves this user's state
            continue
        shown.append(_without_others_children(record, layer, user, owners, layers))
    gone = [key for key in deleted if layers[key[0]].user_key is None or previous.get(key_text(key)) == user]
    return shown, gone + hidden


def _without_others_children(
    record: Record, layer: Layer, user: str | None, owners: Mapping[str, str], layers: Mapping[str, Layer]
) -> Record:
    filtered = None
    for edge in layer.children:
        if edge.child.user_key is None or edge.field_name not in record:
            continue
        filtered = filtered or dict(record)
        value = record[edge.field_name]
        if edge.many:
            filtered[edge.field_name] = [
                pk for pk in value or [] if owners.get(key_text((edge.child.type_name, str(pk)))) == user
            ]
        elif value is not None and owners.get(key_text((edge.child.type_name, str(value)))) != user:
            filtered[edge.field_name] = None
    return filtered if filtered is not None else record


def filter_nested(data: Any, layer: Layer, user: str | None) -> Any:
    """The serializer's nested output without the user-keyed records of other users."""
    if data is None:
        return None
    result = dict(data)
    for edge in layer.children:
        if edge.field_name not in result:
            continue
        child = edge.child

        def keep(item: Any, child: Layer = child) -> bool:
            return child.user_key is None or (
                item is not None and str(item.get(child.user_key)) == str(user) and user is not None
            )

        value = result[edge.field_name]
        if edge.many:
            result[edge.field_name] = [filter_nested(i, child, user) for i in value or [] if keep(i)]
        else:
            result[edge.field_name] = filter_nested(value, child, user) if keep(value) else None
    return result
