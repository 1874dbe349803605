"""How GraphQL errors reach the log: a refusal is one line, a real error keeps its traceback.

Strawberry logs every error of a result at ERROR with the exception's traceback, so an expected refusal
(a denied permission, invalid input, a query that does not validate) looked like a crash. Here refusals
are one line on the ``rxgraphql.errors`` logger: WARNING for FORBIDDEN / UNAUTHENTICATED (someone asked
for what they may not have), INFO for the others (bad input, not found, invalid documents). Every other
exception is logged at ERROR with its traceback, as before.
"""

from __future__ import annotations

import logging
from typing import Any

import strawberry
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from graphql import GraphQLError

from rxgraphql.errors import ErrorCode

logger = logging.getLogger("rxgraphql.errors")

#: Codes (``extensions.code``) of refusals worth a WARNING; other refusals are INFO. ``UNAUTHENTICATED`` is
#: not one of ours: it is the code other libraries' permission extensions answer with.
WARNING_CODES = frozenset({ErrorCode.FORBIDDEN.value, "UNAUTHENTICATED"})
#: What the log calls an error graphql-core raised before execution (syntax, validation, variables).
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
_FORBIDDEN = (PermissionError, PermissionDenied)
_BAD_INPUT = (ValueError, ValidationError, ObjectDoesNotExist)


def _where(error: GraphQLError) -> str:
    return ".".join(str(part) for part in error.path) if error.path else "request"


def refusal_code(error: GraphQLError) -> str | None:
    """The refusal's code, or None when the error is a real failure (to be logged with its traceback)."""
    original = error.original_error
    if original is None:
        code = (error.extensions or {}).get("code")
        return str(code) if code else VALIDATION_FAILED
    if isinstance(original, GraphQLError):
        return str((original.extensions or {}).get("code") or ErrorCode.BAD_REQUEST)
    if isinstance(original, _FORBIDDEN):
        return ErrorCode.FORBIDDEN.value
    if isinstance(original, _BAD_INPUT):
        return ErrorCode.BAD_REQUEST.value
    return None


def log_refusal(error: GraphQLError, code: str | None = None, where: str | None = None) -> None:
    """One line for an expected refusal of ``where`` (default: the error's path)."""
    code = code or refusal_code(error) or ErrorCode.BAD_REQUEST.value
    level = logging.WARNING if code in WARNING_CODES else logging.INFO
    logger.log(level, "%s refused (%s): %s", where or _where(error), code, error.message)


def log_error(error: GraphQLError) -> None:
    """A refusal as one line, anything else at ERROR with the traceback of what was raised."""
    code = refusal_code(error)
    if code is not None:
        log_refusal(error, code)
    else:
        logger.error("%s failed: %s", _where(error), error.message, exc_info=error.original_error)


class LoggedSchema(strawberry.Schema):
    """strawberry's Schema, logging its results' errors through :func:`log_error`."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            log_error(error)
