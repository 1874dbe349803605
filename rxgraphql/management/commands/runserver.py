"""``runserver`` with ``--makefrontend``: regenerate the TypeScript client whenever the server (re)starts.

The autoreloader restarts the server when a channel or serializer module changes, so the generated files
follow the schema during development. Put "rxgraphql" before "daphne" in INSTALLED_APPS so that this
command wraps daphne's ASGI ``runserver``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

try:
    from daphne.management.commands.runserver import Command as BaseRunserver
except ImportError:  # pragma: no cover - daphne is optional
    from django.core.management.commands.runserver import Command as BaseRunserver

from rxgraphql.conf import rx_settings


class Command(BaseRunserver):  # type: ignore[misc]
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--makefrontend",
            action="store_true",
            help="regenerate RXGRAPHQL['FRONTEND_DIR'] from the schema at every (re)start",
        )

    def inner_run(self, *args: Any, **options: Any) -> None:
        if options.get("makefrontend"):
            self._make_frontend()
        super().inner_run(*args, **options)

    def _make_frontend(self) -> None:
        from .makefrontend import introspect_project, planned_files, stale_files

        out_dir = rx_settings().frontend_dir
        if not out_dir:
            self.stderr.write("--makefrontend needs RXGRAPHQL['FRONTEND_DIR']")
            return
        out = Path(out_dir)
        files = planned_files(introspect_project())
        for path in stale_files(out, files):
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            (out / path).write_text(files[path])
            self.stdout.write(f"makefrontend: wrote {path}")
