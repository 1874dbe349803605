"""The error vocabulary: the codes, their HTTP statuses, the exception tree, and the TypeScript mirror."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rxgraphql
from rxgraphql.actions import ActionError as ActionErrorOfActions
from rxgraphql.errors import ActionError, CloseCode, ErrorCode, RxGraphQLError, WriteRefused, status_of

ERRORS_TS = Path(__file__).resolve().parents[2] / "codegen" / "runtime" / "errors.ts"


def ts_const(name: str) -> dict[str, str]:
    """The entries of ``export const <name> = { KEY: value, ... } as const`` in errors.ts, comments out."""
    text = ERRORS_TS.read_text()
    match = re.search(rf"export const {name} = \{{(.*?)\}} as const;", text, re.S)
    assert match is not None, f"errors.ts has no `export const {name} = {{...}} as const`"
    body = re.sub(r"/\*.*?\*/", "", match.group(1), flags=re.S)
    return dict(re.findall(r"(\w+):\s*([^,\s]+),", body))


def test_the_typescript_runtime_lists_the_same_error_codes() -> None:
    assert ts_const("ServerErrorCodes") == {code.name: f'"{code.value}"' for code in ErrorCode}


def test_the_typescript_runtime_lists_the_same_close_codes() -> None:
    assert ts_const("CloseCodes") == {code.name: str(code.value) for code in CloseCode}


def test_the_runtime_codes_and_the_server_codes_do_not_overlap() -> None:
    runtime = {value.strip('"') for value in ts_const("ErrorCodes").values()}
    assert runtime
    assert runtime & {code.value for code in ErrorCode} == set()


def test_codes_are_their_wire_strings() -> None:
    assert [str(code) for code in ErrorCode] == [
        "BAD_REQUEST",
        "FORBIDDEN",
        "NOT_FOUND",
        "NOT_SUBSCRIBED",
        "LIMIT_EXCEEDED",
    ]
    assert ErrorCode.FORBIDDEN == "FORBIDDEN"
    assert type(str(ErrorCode.FORBIDDEN)) is str


def test_close_codes_keep_their_numbers() -> None:
    assert {code.name: int(code) for code in CloseCode} == {
        "GOING_AWAY": 1001,
        "MESSAGE_TOO_BIG": 1009,
        "TRY_AGAIN_LATER": 1013,
        "BAD_REQUEST": 4400,
        "UNAUTHORIZED": 4401,
        "FORBIDDEN": 4403,
        "NOT_FOUND": 4404,
        "SUBPROTOCOL_NOT_ACCEPTABLE": 4406,
        "INIT_TIMEOUT": 4408,
        "SUBSCRIBER_EXISTS": 4409,
        "TOO_MANY_INIT": 4429,
    }


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.BAD_REQUEST, 400),
        (ErrorCode.FORBIDDEN, 403),
        (ErrorCode.NOT_FOUND, 404),
        (ErrorCode.NOT_SUBSCRIBED, 409),
        (ErrorCode.LIMIT_EXCEEDED, 413),
        ("NOT_FOUND", 404),
        ("OUT_OF_STOCK", 400),
    ],
)
def test_status_of_a_code(code: str, status: int) -> None:
    assert status_of(code) == status


def test_every_code_has_a_status() -> None:
    assert all(400 <= code.status < 500 for code in ErrorCode)


def test_action_error_is_the_refusal_base_and_keeps_a_projects_code() -> None:
    refusal = ActionError("Sold out", "OUT_OF_STOCK")
    assert isinstance(refusal, RxGraphQLError)
    assert (refusal.message, refusal.code, str(refusal)) == ("Sold out", "OUT_OF_STOCK", "Sold out")
    assert ActionError("No title").code == ErrorCode.BAD_REQUEST


def test_action_error_is_one_class_wherever_it_is_imported_from() -> None:
    assert ActionErrorOfActions is ActionError is rxgraphql.ActionError
    assert rxgraphql.ErrorCode is ErrorCode
    assert rxgraphql.CloseCode is CloseCode


def test_write_refused_carries_field_errors() -> None:
    refusal = WriteRefused("Invalid data", ErrorCode.BAD_REQUEST, errors={"title": ["required"]})
    assert isinstance(refusal, RxGraphQLError)
    assert (refusal.code, refusal.errors) == (ErrorCode.BAD_REQUEST, {"title": ["required"]})


def test_the_module_docstring_draws_every_exception() -> None:
    import rxgraphql.errors as errors

    assert errors.__doc__ is not None
    for cls in (RxGraphQLError, ActionError, WriteRefused):
        assert cls.__name__ in errors.__doc__
    assert "ChannelError" in errors.__doc__
    assert "LimitError" in errors.__doc__
