"""The management commands: the system message needs the shared broker, the cache expiry reports what it
frees, ``runserver --makefrontend`` writes the client only where it is stale."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from rxgraphql.management.commands.runserver import Command as Runserver


def test_a_system_message_needs_the_shared_broker(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "REDIS_URL": None}
    with pytest.raises(CommandError, match=r"set RXGRAPHQL\['REDIS_URL'\]"):
        call_command("broadcast_system_message", "maintenance", "Back in five minutes")


def test_the_expiry_of_the_embedded_cache_says_it_holds_nothing_to_expire(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "REDIS_URL": None, "MONGO_URL": None}
    out = io.StringIO()
    call_command("expire_rxgraphql_cache", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("The embedded cache lives inside each server process")
    assert re.fullmatch(r"\d+ anchors would free, \d+ records\.", lines[-1]), lines[-1]


def _make_frontend(stdout: io.StringIO, stderr: io.StringIO) -> None:
    command = Runserver(stdout=stdout, stderr=stderr)
    command._make_frontend()


def test_makefrontend_at_start_needs_the_frontend_dir(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "FRONTEND_DIR": None}
    out, err = io.StringIO(), io.StringIO()
    _make_frontend(out, err)
    assert err.getvalue().strip() == "--makefrontend needs RXGRAPHQL['FRONTEND_DIR']"
    assert out.getvalue() == ""


def test_makefrontend_at_start_writes_only_stale_files(settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "FRONTEND_DIR": str(tmp_path)}
    out = io.StringIO()
    _make_frontend(out, io.StringIO())
    written = sorted(line.removeprefix("makefrontend: wrote ") for line in out.getvalue().splitlines())
    assert "runtime/errors.ts" in written
    assert (tmp_path / "runtime" / "errors.ts").read_text().startswith("/**")
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()) == written
    (tmp_path / "runtime" / "errors.ts").write_text("stale")
    again = io.StringIO()
    _make_frontend(again, io.StringIO())
    assert again.getvalue().splitlines() == ["makefrontend: wrote runtime/errors.ts"]
