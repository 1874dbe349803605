"""Parsed and validated GraphQL documents: measured against the limits, prepared off the event loop,
cached by their text within a byte budget, and the arguments of a root field.

Parsing and validating a large document takes CPU time proportional to it (or worse), so a document the
cache does not hold is prepared on a small thread pool of its own: the event loop keeps serving the other
sockets meanwhile. Only documents that passed are cached, and the cache holds at most
``DOCUMENT_CACHE_BYTES`` of document text.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
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
    specified_rules,
)
from graphql.language import FieldNode
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from rxgraphql.conf import RxSettings, rx_settings

from .limits import check_document, check_text, parse_limit_error


@dataclass(frozen=True)
class PreparedDocument:
    document: DocumentNode | None
    errors: tuple[GraphQLError, ...]
    query: str = ""


class DocumentCache:
    """Prepared documents by (schema, introspection allowed, text), least recently used first out."""

    def __init__(self) -> None:
        self.entries: collections.OrderedDict[tuple[int, bool, str], PreparedDocument] = (
            collections.OrderedDict()
        )
        self.size = 0
        self.lock = threading.Lock()

    def get(self, key: tuple[int, bool, str]) -> PreparedDocument | None:
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def put(self, key: tuple[int, bool, str], prepared: PreparedDocument, budget: int) -> None:
        cost = len(key[2])
        if cost > budget:
            return
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = prepared
            self.size += cost
            while self.size > budget and self.entries:
                old, _ = self.entries.popitem(last=False)
                self.size -= len(old[2])

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0


cache = DocumentCache()
_preparing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rxgraphql-documents")


def _key(schema: GraphQLSchema, query: str, conf: RxSettings) -> tuple[int, bool, str]:
    return (id(schema), conf.introspection, query)


def _prepare(schema: GraphQLSchema, query: str, conf: RxSettings) -> PreparedDocument:
    try:
        document = parse(query, max_tokens=conf.max_tokens)
    except GraphQLError as error:
        return PreparedDocument(None, (parse_limit_error(error, conf) or error,))
    refusal = check_document(document, conf)
    if refusal is not None:
        return PreparedDocument(None, (refusal,))
    rules = tuple(specified_rules)
    if not conf.introspection:
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    errors = validate_document(schema, document, rules)
    if errors:
        return PreparedDocument(None, tuple(errors))
    prepared = PreparedDocument(document, (), query)
    cache.put(_key(schema, query, conf), prepared, conf.document_cache_bytes)
    return prepared


def _precheck(schema: GraphQLSchema, query: Any, conf: RxSettings) -> PreparedDocument | None:
    if not isinstance(query, str) or not query.strip():
        return PreparedDocument(None, (GraphQLError("The query must be a non-empty string"),))
    refusal = check_text(query, conf)
    if refusal is not None:
        return PreparedDocument(None, (refusal,))
    return cache.get(_key(schema, query, conf))


def prepare(schema: GraphQLSchema, query: Any) -> PreparedDocument:
    """The document for this text, prepared in the calling thread."""
    conf = rx_settings()
    return _precheck(schema, query, conf) or _prepare(schema, query, conf)


async def prepare_async(schema: GraphQLSchema, query: Any) -> PreparedDocument:
    """The document for this text; parsed and validated off the event loop unless cached."""
    conf = rx_settings()
    found = _precheck(schema, query, conf)
    if found is not None:
        return found
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_preparing, _prepare, schema, query, conf)


# The document prepared for the operation strawberry is about to run in this task.
current_document: ContextVar[PreparedDocument | None] = ContextVar("rxgraphql_document", default=None)


class PreparedDocuments(SchemaExtension):
    """Lets strawberry run the document prepared (and validated) by ``prepare_async`` as it is."""

    def on_parse(self) -> Any:
        prepared = current_document.get()
        context = self.execution_context
        if prepared is not None and prepared.document is not None and prepared.query == context.query:
            context.graphql_document = prepared.document
        yield

    def on_validate(self) -> Any:
        prepared = current_document.get()
        context = self.execution_context
        if prepared is not None and context.graphql_document is prepared.document:
            context.pre_execution_errors = []  # validated by prepare_async, with the same rules
        yield


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
