"""Which browser origins may open the websocket (cross-site websocket hijacking protection)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from rxgraphql.conf import rx_settings


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """Non-browser clients send no Origin; browsers must come from an allowed or the same host."""
    if not origin:
        return True
    allowed = rx_settings().allowed_origins
    if allowed is not None:
        return "*" in allowed or origin in allowed
    origin_host = urlsplit(origin).netloc
    if host and origin_host == host:
        return True
    hostname = urlsplit(origin).hostname or ""
    patterns = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not patterns:
        patterns = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(hostname, patterns)
