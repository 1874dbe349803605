"""Which parents a changed row can alter: the rule that lets a title edit re-render no parent.

A parent's record changes with one of its children only through the child's place in the parent's list
(the child joins it, leaves it, or moves within it), unless the parent renders more than its own row and
its id lists (a method field may read anything: such a parent is re-rendered whenever a child changes).
The decision is taken against the parent's cached list, never by comparing the child's cached record with
its new one: a child re-rendered earlier as some record's parent may already carry its new place while its
old parent still lists it. A child keeps its place when the parent lists it, its foreign key names the
parent, and the change touched neither that foreign key nor a field the child list is ordered by. A
many-to-many list changes its members only through the through table, whose changes name the parent, but
its order follows the children's rows all the same.
"""

from __future__ import annotations

import functools

from django.core.exceptions import FieldDoesNotExist
from django.db import models

from .layers import Edge, EdgeKind, Layer
from .records import Record, RecordKey, field_names, renders_from_own_row

#: Every field may matter (a change of unknown fields, an ordering or manager the rule cannot read).
ANY_FIELD = None


@functools.cache
def placing_fields(edge: Edge) -> frozenset[str] | None:
    """The child's fields deciding its place in the parent's list (``edge``, a REVERSE or MANY_TO_MANY
    list): its foreign key (REVERSE) and the fields of its ordering; None when any field may (a filtering
    manager, an ordering by expression or by something else than the child's own fields)."""
    model = edge.child.model
    query = model._default_manager.all().query
    if query.where or query.order_by or query.extra_order_by or query.distinct or query.annotations:
        return ANY_FIELD
    names: set[str] = {str(edge.child_fk_attname)} if edge.kind is EdgeKind.REVERSE else set()
    for item in model._meta.ordering or ():
        if not isinstance(item, str) or item == "?":
            return ANY_FIELD
        first = item.lstrip("-+").split("__", 1)[0]
        if first == "pk":
            pk = model._meta.pk
            assert pk is not None
            first = pk.name
        try:
            model._meta.get_field(first)
        except FieldDoesNotExist:
            return ANY_FIELD
        names.add(first)
    return field_names(model, names)


class ListCheck:
    """One changed row (``row`` None when it is gone) and the fields its change may have altered."""

    def __init__(
        self, layer: Layer, key: RecordKey, row: models.Model | None, fields: frozenset[str] | None
    ) -> None:
        self.layer = layer
        self.key = key
        self.row = row
        self.fields = None if fields is None else field_names(layer.model, fields)

    def may_change(self, parent_layer: Layer, parent_key: RecordKey, parent: Record | None) -> bool:
        """Whether the change can alter this cached parent record (None: not in the anchor)."""
        if parent is None:
            return False
        if self.row is None:
            return True  # gone: it leaves the parent's list
        edges = [edge for edge in parent_layer.children if edge.child.type_name == self.layer.type_name]
        return any(self._edge_may_change(edge, parent_key, parent) for edge in edges)

    def _edge_may_change(self, edge: Edge, parent_key: RecordKey, parent: Record) -> bool:
        if edge.kind is EdgeKind.FORWARD:
            return False  # the parent's own row holds the link: its change says so
        if edge.kind is EdgeKind.MANY_TO_MANY:
            # The through table holds the link (its change says so); the child's ordering, its place.
            return self._listed(edge, parent) and self._may_move(edge)
        if edge.kind is EdgeKind.OPAQUE or edge.child_fk_attname is None:
            return True
        if not renders_from_own_row(edge.parent):
            return True
        listed = self._listed(edge, parent)
        points = str(getattr(self.row, edge.child_fk_attname, None)) == parent_key[1]
        if listed != points:
            return True  # it joins or leaves this parent's list
        if not listed or not edge.many:
            return False
        return self._may_move(edge)

    def _listed(self, edge: Edge, parent: Record) -> bool:
        """Whether the cached parent lists (or holds) this child."""
        value = parent.get(edge.field_name)
        pk = self.key[1]
        if edge.many:
            return any(str(item) == pk for item in value or ())
        return value is not None and str(value) == pk

    def _may_move(self, edge: Edge) -> bool:
        """Whether the change may move the child within the parent's list (its ordering fields)."""
        placing = placing_fields(edge)
        return self.fields is None or placing is None or bool(self.fields & placing)
