"""``manage.py broadcast_system_message SOURCE MESSAGE``: a notification to every live subscription.

It reaches the subscriptions of every process that shares the broker (Redis); with the embedded
backends only the command's own process could hear it, so it refuses to run there.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from rxgraphql.conf import rx_settings
from rxgraphql.notices import broadcast_system_message


class Command(BaseCommand):
    help = "Send a system message to every live subscription (needs the shared Redis broker)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help='what the message is about, e.g. "maintenance"')
        parser.add_argument("message", help="the text shown to users")

    def handle(self, *args: Any, **options: Any) -> None:
        if not rx_settings().redis_url:
            raise CommandError(
                "with the embedded backends no server process shares this command's broker; "
                "set RXGRAPHQL['REDIS_URL'] (or call broadcast_system_message from the server process)"
            )
        broadcast_system_message(options["source"], options["message"])
        self.stdout.write("sent")
