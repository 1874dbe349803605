"""``manage.py makefrontend``: TypeScript types, channel classes, hooks and the client runtime.

Generates from the introspected schema of this project, or of a running server (``--from-url``).
``--check`` exits non-zero when the files on disk are stale (for CI); ``--dry-run`` shows the diff.
"""

from __future__ import annotations

import difflib
import json
import urllib.request
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from graphql import get_introspection_query

from codegen.generate import generate, runtime_files
from rxgraphql.conf import rx_settings


def introspect_project() -> dict[str, Any]:
    from graphql import graphql_sync

    from schema_bridge.schema import get_schema

    result = graphql_sync(get_schema()._schema, get_introspection_query(descriptions=True))
    if result.errors:
        raise CommandError(f"introspection failed: {result.errors[0].message}")
    assert result.data is not None
    return result.data


def introspect_url(url: str, token: str | None) -> dict[str, Any]:
    body = json.dumps({"query": get_introspection_query(descriptions=True)}).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload: dict[str, Any] = json.load(response)
    except OSError as error:
        raise CommandError(f"could not introspect {url}: {error}") from error
    if payload.get("errors") or not payload.get("data"):
        raise CommandError(f"introspection of {url} failed: {payload.get('errors')}")
    data: dict[str, Any] = payload["data"]
    return data


def planned_files(introspection: dict[str, Any]) -> dict[str, str]:
    return {**generate(introspection), **runtime_files()}


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    return [path for path, content in files.items() if _read(out / path) != content]


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


class Command(BaseCommand):
    help = "Generate the TypeScript client (types, channel classes, hooks, runtime) from the GraphQL schema."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", help="output directory (default: RXGRAPHQL['FRONTEND_DIR'])")
        parser.add_argument("--from-url", help="introspect a running server's /graphql instead")
        parser.add_argument("--token", help="DRF token for --from-url")
        parser.add_argument("--check", action="store_true", help="exit 1 when files on disk are stale")
        parser.add_argument("--dry-run", action="store_true", help="show the diff, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        out_option = options["out"] or rx_settings().frontend_dir
        if not out_option:
            raise CommandError("set RXGRAPHQL['FRONTEND_DIR'] or pass --out")
        out = Path(out_option)
        if options["from_url"]:
            introspection = introspect_url(options["from_url"], options["token"])
        else:
            introspection = introspect_project()
        files = planned_files(introspection)
        stale = stale_files(out, files)
        if options["check"]:
            if stale:
                raise CommandError(
                    "generated TypeScript is stale: " + ", ".join(sorted(stale)) + " (run makefrontend)"
                )
            self.stdout.write(f"{out}: up to date ({len(files)} files)")
            return
        if options["dry_run"]:
            for path in sorted(stale):
                before = (_read(out / path) or "").splitlines(keepends=True)
                after = files[path].splitlines(keepends=True)
                self.stdout.write("".join(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}")))
            self.stdout.write(f"{len(stale)} of {len(files)} files would change")
            return
        for path in sorted(stale):
            target = out / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(files[path])
        self.stdout.write(f"{out}: wrote {len(stale)} of {len(files)} files")
