"""Prepared documents: limits measured with fragments expanded, a cache bounded by bytes without errors."""

from __future__ import annotations

import dataclasses

from graphql import parse

from rxgraphql.conf import rx_settings
from schema_bridge import documents
from schema_bridge.limits import check_document
from schema_bridge.schema import get_schema_index


def test_the_cache_holds_only_valid_documents_within_its_byte_budget() -> None:
    schema = get_schema_index().schema._schema
    conf = dataclasses.replace(rx_settings(), document_cache_bytes=1_000)
    documents.cache.clear()
    try:
        for number in range(50):
            query = "{ me " + " ".join(f"a{number}_{i}: me" for i in range(5)) + " }"
            assert documents._prepare(schema, query, conf).document is not None
            assert documents.cache.size <= 1_000
        assert 0 < len(documents.cache.entries) < 50
        assert documents._prepare(schema, "{ nosuchfield }", conf).errors
        assert documents._prepare(schema, "{ me", conf).errors
        assert not any(key[2] in ("{ nosuchfield }", "{ me") for key in documents.cache.entries)
        assert documents.cache.size == sum(len(key[2]) for key in documents.cache.entries)
    finally:
        documents.cache.clear()


def test_a_document_larger_than_the_whole_budget_is_not_cached() -> None:
    schema = get_schema_index().schema._schema
    conf = dataclasses.replace(rx_settings(), document_cache_bytes=10)
    documents.cache.clear()
    assert documents._prepare(schema, "{ me __typename }", conf).document is not None
    assert documents.cache.size == 0


def test_fragments_count_once_per_spread_and_cycles_end() -> None:
    conf = dataclasses.replace(rx_settings(), max_fields=100, max_depth=100, max_aliases=100)
    # Each fragment doubles the one below it: 2**20 fields from a tiny document.
    chain = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }} " for i in range(20))
    document = parse("{ ...F0 } " + chain + "fragment F20 on Query { me }")
    refusal = check_document(document, conf)
    assert refusal is not None
    assert refusal.setting == "MAX_FIELDS"
    cyclic = parse("{ ...A } fragment A on Query { me ...B } fragment B on Query { ...A }")
    assert check_document(cyclic, conf) is None  # left to validation, which reports the cycle


def test_depth_and_aliases_count_through_inline_fragments() -> None:
    conf = dataclasses.replace(rx_settings(), max_depth=3, max_aliases=1)
    deep = parse("{ __schema { types { ... on __Type { fields { name } } } } }")
    assert check_document(deep, conf) is not None
    assert check_document(deep, conf).setting == "MAX_DEPTH"  # type: ignore[union-attr]
    aliased = parse("{ a: me ... on Query { b: me } }")
    assert check_document(aliased, conf).setting == "MAX_ALIASES"  # type: ignore[union-attr]
