"""The ``RXGRAPHQL`` settings: one defaults table, read once, documented; an unknown key is reported."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.test import override_settings
from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql import conf
from rxgraphql.checks import check_setting_names

ROOT = Path(__file__).resolve().parents[2]


def readme_table() -> dict[str, str]:
    """Each key of the README's settings table with the text of its default column."""
    section = (ROOT / "README.md").read_text().split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 3:
            continue
        keys = re.findall(r"`([A-Z][A-Z_]+)`", cells[0])
        defaults = [part.strip() for part in cells[1].split(",")]
        for index, key in enumerate(keys):
            rows[key] = defaults[index] if len(defaults) == len(keys) else cells[1]
    return rows


def documented_default(text: str) -> Any:
    text = text.strip("`")
    if text.startswith("none"):
        return None
    if text == "DEBUG":
        return conf.DEBUG
    if text in ("True", "False"):
        return text == "True"
    if text.startswith('"'):
        return text.strip('"')
    return float(text)


def test_every_setting_read_is_a_key_of_the_defaults_table() -> None:
    fields = {field.name.upper() for field in dataclasses.fields(conf.RxSettings)}
    assert fields == set(conf.DEFAULTS) == conf.SETTING_NAMES


def test_the_readme_table_lists_every_key_with_its_default() -> None:
    table = readme_table()
    assert set(table) == set(conf.DEFAULTS)
    for key, default in conf.DEFAULTS.items():
        expected = default if isinstance(default, str) or default is conf.DEBUG else default or None
        if isinstance(expected, int | float):
            expected = float(expected)
        assert documented_default(table[key]) == expected, key


def test_defaults_apply_and_values_are_converted(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {
        "CACHE_TTL": "5",
        "ALLOWED_ORIGINS": ["https://a.example"],
        "FRONTEND_DIR": Path("/tmp/front"),
        "MAX_DEPTH": "7",
    }
    read = conf.rx_settings()
    assert (read.cache_ttl, read.allowed_origins, read.frontend_dir, read.max_depth) == (
        5.0,
        ("https://a.example",),
        "/tmp/front",
        7,
    )
    assert (read.ping_interval, read.mongo_database, read.extensions, read.redis_url) == (
        15.0,
        "rxgraphql",
        (),
        None,
    )


def test_graphiql_and_introspection_follow_debug_unless_set() -> None:
    assert conf.read_settings({}, debug=True).graphiql is True
    assert conf.read_settings(None, debug=False).introspection is False
    assert conf.read_settings({"GRAPHIQL": True}, debug=False).graphiql is True


def test_the_settings_are_read_once_and_again_after_setting_changed(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {"SEND_QUEUE_SIZE": 3}
    first = conf.rx_settings()
    assert conf.rx_settings() is first
    with override_settings(RXGRAPHQL={"SEND_QUEUE_SIZE": 4}):
        assert conf.rx_settings().send_queue_size == 4
    assert conf.rx_settings().send_queue_size == 3
    settings.RXGRAPHQL = {"SEND_QUEUE_SIZE": 5}
    assert conf.rx_settings().send_queue_size == 5


def test_the_settings_follow_debug_assigned_without_the_signal(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {}
    debug = django_settings.DEBUG
    try:
        django_settings.DEBUG = not debug  # what django.test.utils.setup_test_environment does
        assert conf.rx_settings().graphiql is (not debug)
    finally:
        django_settings.DEBUG = debug
    assert conf.rx_settings().graphiql is debug


def test_an_unknown_key_is_named_with_the_closest_setting(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "REDIS_URI": "redis://x", "NOTHING_LIKE_IT": 1}
    messages = check_setting_names()
    assert [m.id for m in messages] == ["rxgraphql.W004", "rxgraphql.W004"]
    nothing, redis = messages
    assert "'NOTHING_LIKE_IT'" in nothing.msg
    assert "'REDIS_URI'" in redis.msg
    assert redis.hint == "Did you mean 'REDIS_URL'?"


def test_known_keys_pass(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {"REDIS_URL": None, "CAPTURE": "auto"}
    assert check_setting_names() == []
