"""``manage.py rxgraphql_capture``: show, install or remove the PostgreSQL capture triggers.

``migrate`` installs them already; this command is for checking a deployment (``--check`` exits 1 when
they are not in step), for installing them without migrating, and for removing them (``--remove``: the
triggers, their function and the outbox).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections

from ...capture import triggers


class Command(BaseCommand):
    help = "Show, install (default) or remove rxgraphql's PostgreSQL change-capture triggers."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--check", action="store_true", help="only report; exit 1 when not in step")
        group.add_argument("--remove", action="store_true", help="drop the triggers, functions and outbox")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args: Any, **options: Any) -> None:
        using = options["database"]
        if connections[using].vendor != "postgresql":
            raise CommandError("change-capture triggers need PostgreSQL; other databases use signals")
        if options["remove"]:
            triggers.remove(using)
            self.stdout.write("removed the capture triggers, their functions and the outbox")
            return
        found = triggers.status(using) if options["check"] else triggers.sync(using)
        for table in found.missing:
            self.stdout.write(f"missing: {table}")
        for table in found.stale:
            self.stdout.write(f"changed: {table}")
        for table in found.extra:
            self.stdout.write(f"not needed: {table}")
        if not found.outbox:
            self.stdout.write(f"missing: the outbox table {triggers.OUTBOX}")
        if options["check"]:
            if not found.in_step:
                raise CommandError("the capture triggers are not in step with the channels")
            self.stdout.write(f"in step: {len(triggers.wanted_triggers())} tables captured")
        else:
            self.stdout.write("installed" if not found.in_step else "already in step")
