"""Limits every GraphQL document must stay within before it is validated or executed.

Validation of GraphQL documents is superlinear in the worst case (graphql-core's overlapping-fields rule
compares fields pairwise), and a nested channel query costs database work per alias. Documents are
therefore measured first: their size and token count before parsing, then, in one linear pass over the
parsed document with fragments expanded, their depth, aliases and number of fields. A refusal is a
GraphQL error naming the setting (``extensions.code`` ``LIMIT_EXCEEDED``, ``extensions.limit``): a
:class:`~schema_bridge.access.ChannelError`, as every refusal of ``rxgraphql.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from rxgraphql.conf import RxSettings
from rxgraphql.errors import ErrorCode

from .access import ChannelError


class LimitError(ChannelError):
    """A document, request or frame beyond one of the ``RXGRAPHQL`` limits."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message, ErrorCode.LIMIT_EXCEEDED, limit=setting)
        self.setting = setting


@dataclass(frozen=True)
class Measure:
    """Depth, aliases and fields of a selection set with its fragments expanded."""

    depth: int = 0
    aliases: int = 0
    fields: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(max(self.depth, other.depth), self.aliases + other.aliases, self.fields + other.fields)


class _Measurer:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.done: dict[str, Measure] = {}
        self.visiting: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None) -> Measure:
        total = Measure()
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set)
                alias = 1 if selection.alias is not None else 0
                total += Measure(inner.depth + 1, inner.aliases + alias, inner.fields + 1)
            elif isinstance(selection, InlineFragmentNode):
                total += self.selection_set(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> Measure:
        # Each fragment is measured once, so reuse costs nothing here however often it is spread.
        if name in self.done:
            return self.done[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.visiting:
            return Measure()  # unknown fragments and cycles are validation errors
        self.visiting.add(name)
        measure = self.selection_set(definition.selection_set)
        self.visiting.discard(name)
        self.done[name] = measure
        return measure


def check_text(query: str, conf: RxSettings) -> LimitError | None:
    """Refuse a document whose text is too large, before it is parsed."""
    size = len(query.encode())
    if size > conf.max_document_bytes:
        return LimitError(
            "MAX_DOCUMENT_BYTES",
            f"The document is {size} bytes; the limit is {conf.max_document_bytes} (MAX_DOCUMENT_BYTES)",
        )
    return None


def parse_limit_error(error: GraphQLError, conf: RxSettings) -> LimitError | None:
    """graphql-core's token limit as our limit error (it raises a plain syntax error)."""
    if "tokens. parsing aborted" in error.message.lower():
        return LimitError("MAX_TOKENS", f"The document has more than {conf.max_tokens} tokens (MAX_TOKENS)")
    return None


def check_document(document: DocumentNode, conf: RxSettings) -> LimitError | None:
    """Refuse an operation that is too deep, has too many aliases or too many fields."""
    measurer = _Measurer(document)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        measure = measurer.selection_set(definition.selection_set)
        if measure.depth > conf.max_depth:
            return LimitError(
                "MAX_DEPTH",
                f"The operation is {measure.depth} fields deep; the limit is {conf.max_depth} (MAX_DEPTH)",
            )
        if measure.aliases > conf.max_aliases:
            return LimitError(
                "MAX_ALIASES",
                f"The operation has {measure.aliases} aliases; the limit is {conf.max_aliases} (MAX_ALIASES)",
            )
        if measure.fields > conf.max_fields:
            return LimitError(
                "MAX_FIELDS",
                f"The operation selects {measure.fields} fields; the limit is {conf.max_fields} (MAX_FIELDS)",
            )
    return None
