"""``manage.py expire_rxgraphql_cache [--dry-run]``: free the cached anchors nobody watches any more.

An anchor is freed when no process has a subscriber on it and its TTL (``Meta.cache_ttl``, else
``RXGRAPHQL["CACHE_TTL"]``) has passed since the last one left. Server processes free their own anchors
when the TTL passes; this command also frees what crashed processes left (their subscriber leases
expire) and, with the shared backends, records of anchors Redis no longer knows (after a Redis restart).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rxgraphql.backends import get_cache
from rxgraphql.registry import registry


class Command(BaseCommand):
    help = "Free the rxgraphql cache of anchors nobody watches whose TTL has passed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would be freed and free nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = bool(options["dry_run"])
        cache = get_cache()
        if not cache.shared:
            self.stdout.write(
                "The embedded cache lives inside each server process, which frees it after the TTL; "
                "this process holds nothing to expire."
            )
        freed = cache.expire_idle(registry.channels, dry_run=dry_run)
        verb = "would free" if dry_run else "freed"
        for item in freed:
            self.stdout.write(
                f"{verb} {item.channel} {item.anchor}: {item.records} records, idle {item.idle_seconds:.0f}s"
            )
        self.stdout.write(f"{len(freed)} anchors {verb}, {sum(i.records for i in freed)} records.")
