"""System checks of the security settings."""

from __future__ import annotations

from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql.checks import check_security


def _ids(settings: SettingsWrapper, **values: object) -> list[str]:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, **values}
    return [message.id or "" for message in check_security()]


def test_the_example_settings_pass(settings: SettingsWrapper) -> None:
    assert _ids(settings) == []


def test_a_limit_must_be_positive(settings: SettingsWrapper) -> None:
    assert _ids(settings, MAX_DEPTH=0, SYNC_THREADS=-1) == ["rxgraphql.E101", "rxgraphql.E101"]


def test_any_origin_and_graphiql_without_introspection_are_warned_about(settings: SettingsWrapper) -> None:
    assert _ids(settings, ALLOWED_ORIGINS=["*"]) == ["rxgraphql.W101"]
    assert _ids(settings, ALLOWED_ORIGINS=None, GRAPHIQL=True, INTROSPECTION=False) == ["rxgraphql.W102"]
