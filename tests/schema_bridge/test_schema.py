"""Errors: messages meant for clients pass, anything unexpected is masked unless DEBUG."""

import pytest
from graphql import GraphQLError
from pytest_django.fixtures import Settings

from schema_bridge.access import ChannelError
from schema_bridge.schema import _should_mask


@pytest.mark.parametrize(
    ("original", "masked"),
    [
        (RuntimeError("database password is hunter2"), True),
        (KeyError("internal"), True),
        (PermissionError("not yours"), False),
        (ValueError("bad input"), False),
        (ChannelError("refused", "FORBIDDEN"), False),
        (None, False),
    ],
)
def test_unexpected_errors_are_masked_in_production(
    settings: Settings, original: Exception | None, masked: bool
) -> None:
    settings.DEBUG = False
    error = GraphQLError(str(original), original_error=original)
    assert _should_mask(error) is masked
    settings.DEBUG = True
    assert _should_mask(error) is False
