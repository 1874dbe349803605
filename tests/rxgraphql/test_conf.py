"""The ``RXGRAPHQL`` settings: every key read is declared and documented; an unknown key is reported."""

from __future__ import annotations

import re
from pathlib import Path

from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql import conf
from rxgraphql.checks import check_setting_names

ROOT = Path(__file__).resolve().parents[2]


def test_every_key_read_is_declared_and_in_the_readme_table() -> None:
    read = set(re.findall(r'raw.get\("([A-Z_]+)"', Path(conf.__file__).read_text()))
    assert read == set(conf.SETTING_NAMES)
    table = Path(ROOT / "README.md").read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Z_]+)`", table))
    assert set(conf.SETTING_NAMES) - documented == set()


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
