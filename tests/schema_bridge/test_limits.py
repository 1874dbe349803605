"""Document limits: size before parsing, tokens while parsing, depth, aliases and fields after it; each
refusal a LIMIT_EXCEEDED ChannelError naming its setting."""

from __future__ import annotations

import dataclasses

import pytest
from graphql import GraphQLError, GraphQLSyntaxError, parse

from rxgraphql.conf import RxSettings, rx_settings
from rxgraphql.errors import ErrorCode, RxGraphQLError
from schema_bridge.access import ChannelError
from schema_bridge.limits import LimitError, Measure, check_document, check_text, parse_limit_error


def _conf(**changes: int) -> RxSettings:
    return dataclasses.replace(rx_settings(), **changes)


def test_a_limit_error_is_a_refusal_naming_its_setting() -> None:
    error = LimitError("MAX_DEPTH", "too deep")
    assert isinstance(error, ChannelError)
    assert isinstance(error, RxGraphQLError)
    assert (error.code, error.setting) == (ErrorCode.LIMIT_EXCEEDED, "MAX_DEPTH")
    assert error.formatted == {
        "message": "too deep",
        "extensions": {"code": "LIMIT_EXCEEDED", "limit": "MAX_DEPTH"},
    }


def test_the_text_is_measured_in_utf8_bytes() -> None:
    conf = _conf(max_document_bytes=10)
    assert check_text("{ me }", conf) is None
    assert check_text("{ me }    ", conf) is None  # exactly 10 bytes
    refused = check_text("{ é me }", _conf(max_document_bytes=8))  # 8 characters, 9 bytes
    assert refused is not None
    assert refused.setting == "MAX_DOCUMENT_BYTES"
    assert refused.message == "The document is 9 bytes; the limit is 8 (MAX_DOCUMENT_BYTES)"


def test_graphql_cores_token_limit_becomes_ours() -> None:
    conf = _conf(max_tokens=5)
    with pytest.raises(GraphQLSyntaxError) as raised:
        parse("{ a b c d e f g }", max_tokens=5)
    refused = parse_limit_error(raised.value, conf)
    assert refused is not None
    assert (refused.setting, refused.message) == (
        "MAX_TOKENS",
        "The document has more than 5 tokens (MAX_TOKENS)",
    )
    assert parse_limit_error(GraphQLError("Syntax Error: Expected Name"), conf) is None


def test_measures_add_depth_as_the_deepest_and_count_the_rest() -> None:
    assert Measure(3, 1, 4) + Measure(5, 2, 1) == Measure(5, 3, 5)


@pytest.mark.parametrize(
    ("setting", "limit", "document", "message"),
    [
        ("MAX_DEPTH", 2, "{ a { b { c } } }", "The operation is 3 fields deep; the limit is 2 (MAX_DEPTH)"),
        ("MAX_ALIASES", 1, "{ x: a y: a }", "The operation has 2 aliases; the limit is 1 (MAX_ALIASES)"),
        ("MAX_FIELDS", 3, "{ a b { c d } }", "The operation selects 4 fields; the limit is 3 (MAX_FIELDS)"),
    ],
)
def test_each_measure_beyond_its_limit_is_refused(
    setting: str, limit: int, document: str, message: str
) -> None:
    conf = _conf(**{setting.lower(): limit})
    refused = check_document(parse(document), conf)
    assert refused is not None
    assert (refused.setting, refused.message) == (setting, message)
    assert check_document(parse(document), _conf(**{setting.lower(): limit + 1})) is None


def test_each_operation_is_measured_on_its_own() -> None:
    conf = _conf(max_fields=2)
    assert check_document(parse("query A { a b } query B { c d }"), conf) is None
    assert check_document(parse("query A { a b } query B { c d e }"), conf) is not None


def test_a_fragment_spread_twice_counts_twice_and_an_unknown_one_counts_nothing() -> None:
    conf = _conf(max_fields=3)
    assert check_document(parse("{ ...F } fragment F on Q { a b }"), conf) is None
    twice = check_document(parse("{ ...F ... on Q { ...F } } fragment F on Q { a b }"), conf)
    assert twice is not None
    assert twice.setting == "MAX_FIELDS"
    assert check_document(parse("{ a ...Missing }"), conf) is None
