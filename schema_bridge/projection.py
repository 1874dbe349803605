"""Channel events rendered without the GraphQL executor: the document compiled once into a projection.

An event is a tree of dicts (the event, flat records, deleted refs) whose fields all resolve by key, so
executing a document against it is a projection: pick the selected keys, serialize the leaves with their
GraphQL scalar, resolve the record union by ``__typename``. Compiling the selection once and projecting
each event costs a small fraction of graphql-core's execution, which dominates a snapshot otherwise.

The projection answers exactly what execution answers for the documents it supports: fields (with
aliases), ``__typename``, inline fragments and fragment spreads, and fields selected on an interface
(``deleted { type id }`` on ``RecordRef``: the concrete type is the one whose ``is_type_of`` accepts the
value). Anything else (directives, arguments inside the event, fragments on interfaces, a value that is
not a plain dict, a null where the schema says non-null) raises :class:`Unsupported` and the caller
executes the document instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from rxgraphql.records import TYPENAME

from .documents import operation

Project = Callable[[Any], Any]


NO_INFO: Any = None


class Unsupported(Exception):
    """This document, or this value, needs the executor."""


def _check(condition: bool) -> None:
    if not condition:
        raise Unsupported


@dataclass
class _ObjectPlan:
    type_name: str
    fields: list[tuple[str, str | None, Project | None]] = field(default_factory=list)
    """(response key, dict key or None for ``__typename``, projection of the value)."""

    def project(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise Unsupported
        out: dict[str, Any] = {}
        for key, source, project in self.fields:
            if source is None:
                out[key] = self.type_name
            else:
                assert project is not None
                out[key] = project(value.get(source))
        return out


class _Compiler:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def selections(self, selection_set: SelectionSetNode, type_name: str) -> list[FieldNode]:
        """The fields selected on an object type, fragments flattened, in document order."""
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            _check(not selection.directives)
            if isinstance(selection, FieldNode):
                found.append(selection)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                _check(fragment is not None and not fragment.directives)
                assert fragment is not None
                condition: str | None = fragment.type_condition.name.value
                inner = fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition = selection.type_condition.name.value if selection.type_condition else None
                inner = selection.selection_set
            if condition is None or condition == type_name:
                found.extend(self.selections(inner, type_name))
                continue
            kind = self.schema.type_map.get(condition)
            if isinstance(kind, GraphQLObjectType):
                continue  # another member of the union
            # A condition on a union applies to its members; interfaces are left to the executor.
            _check(isinstance(kind, GraphQLUnionType))
            assert isinstance(kind, GraphQLUnionType)
            if any(member.name == type_name for member in kind.types):
                found.extend(self.selections(inner, type_name))
        return found

    def object_plan(self, kind: GraphQLObjectType, selection_set: SelectionSetNode) -> _ObjectPlan:
        plan = _ObjectPlan(kind.name)
        seen: set[str] = set()
        for node in self.selections(selection_set, kind.name):
            _check(not node.arguments)
            key = node.alias.value if node.alias else node.name.value
            if key in seen:
                # The same key selected twice: merging sub-selections is the executor's job.
                _check(node.selection_set is None)
                continue
            seen.add(key)
            if node.name.value == "__typename":
                plan.fields.append((key, None, None))
                continue
            gql_field = kind.fields.get(node.name.value)
            _check(gql_field is not None)
            assert gql_field is not None
            definition = gql_field.extensions.get("strawberry-definition")
            source = getattr(definition, "python_name", None) or node.name.value
            plan.fields.append((key, source, self.value(gql_field.type, node.selection_set)))
        return plan

    def value(self, kind: GraphQLOutputType, selection_set: SelectionSetNode | None) -> Project:
        if isinstance(kind, GraphQLNonNull):
            inner = self.value(kind.of_type, selection_set)

            def non_null(value: Any) -> Any:
                if value is None:
                    raise Unsupported
                return inner(value)

            return non_null
        if isinstance(kind, GraphQLList):
            item = self.value(kind.of_type, selection_set)

            def many(value: Any) -> Any:
                if value is None:
                    return None
                _check(isinstance(value, list | tuple))
                return [item(v) for v in value]

            return many
        if isinstance(kind, GraphQLScalarType | GraphQLEnumType):
            _check(selection_set is None and not isinstance(kind, GraphQLEnumType))
            serialize = kind.serialize

            def leaf(value: Any) -> Any:
                return None if value is None else serialize(value)

            return leaf
        _check(selection_set is not None)
        assert selection_set is not None
        if isinstance(kind, GraphQLObjectType):
            plan = self.object_plan(kind, selection_set)

            def obj(value: Any) -> Any:
                return None if value is None else plan.project(value)

            return obj
        if isinstance(kind, GraphQLInterfaceType):
            return self.interface(kind, selection_set)
        _check(isinstance(kind, GraphQLUnionType))
        assert isinstance(kind, GraphQLUnionType)
        plans = {member.name: self.object_plan(member, selection_set) for member in kind.types}

        def union(value: Any) -> Any:
            if value is None:
                return None
            plan = plans.get(value.get(TYPENAME)) if isinstance(value, Mapping) else None
            if plan is None:
                raise Unsupported
            return plan.project(value)

        return union

    def interface_plans(
        self, kind: GraphQLInterfaceType, selection_set: SelectionSetNode
    ) -> list[tuple[GraphQLObjectType, _ObjectPlan]]:
        members = self.schema.get_possible_types(kind)
        _check(all(member.is_type_of is not None for member in members))
        return [(member, self.object_plan(member, selection_set)) for member in members]

    def interface(self, kind: GraphQLInterfaceType, selection_set: SelectionSetNode) -> Project:
        plans = self.interface_plans(kind, selection_set)

        def resolve(value: Any) -> Any:
            if value is None:
                return None
            for member, plan in plans:
                # the ref types' is_type_of reads the value alone (layer_types.py): no resolve info
                if member.is_type_of is not None and member.is_type_of(value, NO_INFO):
                    return plan.project(value)
            raise Unsupported

        return resolve


def compile_event(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> Callable[[dict[str, Any]], str] | None:
    """A function rendering one event root as the executor would (``{"data": ...}`` as JSON text).

    None when the document needs the executor. The function raises :class:`Unsupported` for an event it
    cannot render exactly.
    """
    op = operation(document, operation_name)
    if not isinstance(op, OperationDefinitionNode) or op.directives:
        return None
    root_type = schema.subscription_type
    if root_type is None or len(op.selection_set.selections) != 1:
        return None
    node = op.selection_set.selections[0]
    if not isinstance(node, FieldNode) or node.directives or node.selection_set is None:
        return None
    root_field = root_type.fields.get(node.name.value)
    if root_field is None:
        return None
    key = node.alias.value if node.alias else node.name.value
    try:
        project = _Compiler(schema, document).value(root_field.type, node.selection_set)
    except Unsupported:
        return None

    def render(root: dict[str, Any]) -> str:
        return orjson.dumps({"data": {key: project(root)}}).decode()

    return render
