"""Parsed and validated GraphQL documents, cached by their text, and the arguments of a root field."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.language import FieldNode


@dataclass(frozen=True)
class PreparedDocument:
    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]


@functools.lru_cache(maxsize=512)
def _prepare(schema: GraphQLSchema, query: str) -> PreparedDocument:
    try:
        document = parse(query)
    except GraphQLError as error:
        return PreparedDocument(None, (error,))
    errors = validate(schema, document)
    if errors:
        return PreparedDocument(None, tuple(errors))
    return PreparedDocument(document, ())


def prepare(schema: GraphQLSchema, query: Any) -> PreparedDocument:
    if not isinstance(query, str) or not query.strip():
        return PreparedDocument(None, (GraphQLError("The query must be a non-empty string"),))
    return _prepare(schema, query)


def operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    return get_operation_ast(document, name)


def single_root_field(op: OperationDefinitionNode) -> str | None:
    """The name of a subscription's root field when it is written out as a plain field."""
    if op.operation is not OperationType.SUBSCRIPTION:
        return None
    selections = op.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    return selections[0].name.value


def root_arguments(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    operation_name: str | None,
) -> tuple[dict[str, Any] | None, list[GraphQLError]]:
    """Coerce the variables and the root field's arguments exactly as execution would.

    The root resolver is wrapped by a middleware that records its arguments and stops there.
    """
    captured: dict[str, Any] = {}

    def capture(next_: Any, root: Any, info: Any, **args: Any) -> Any:
        if not info.path.prev:
            captured.update(args)
            captured["__done__"] = True
        return None

    result = execute(
        schema,
        document,
        root_value=None,
        variable_values=dict(variables or {}),
        operation_name=operation_name,
        middleware=[capture],
    )
    if "__done__" in captured:
        captured.pop("__done__")
        return captured, []
    errors = list(getattr(result, "errors", None) or [GraphQLError("Invalid operation")])
    return None, errors
