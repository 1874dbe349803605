"""Which browser origins may use the session cookie or open the websocket (CSRF and cross-site websocket
hijacking protection).

An origin is compared whole: scheme, host and port. The server's own origin is allowed: the scheme the
request came in with and its ``Host`` header, itself checked against ``ALLOWED_HOSTS`` as Django does;
``ALLOWED_HOSTS = ["*"]`` therefore accepts any host name for the server itself, never any origin.
Other origins only when ``RXGRAPHQL["ALLOWED_ORIGINS"]`` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from rxgraphql.conf import rx_settings

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with the port always written; None if it is no origin."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS[scheme]}"


def request_scheme(scope: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """``http`` or ``https`` as the browser sees it (``SECURE_PROXY_SSL_HEADER`` honoured, like Django)."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header, secure = proxy
        name = header.lower().removeprefix("http_").replace("_", "-")
        value = headers.get(name)
        if value is not None:
            return "https" if value.split(",")[0].strip() == secure else "http"
    return "https" if scope.get("scheme") in ("https", "wss") else "http"


def _host_allowed(host: str) -> bool:
    hostname = urlsplit(f"//{host}").hostname or ""
    if ":" in hostname:
        hostname = f"[{hostname}]"
    patterns = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not patterns:
        patterns = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(hostname, patterns)


def origin_allowed(origin: str | None, host: str | None, scheme: str = "http") -> bool:
    """Non-browser clients send no Origin; a browser's must be an allowed one or the server's own."""
    if not origin:
        return True
    seen = normalize(origin)
    if seen is None:
        return False  # "null" (sandboxed pages, file://) and anything malformed
    allowed = rx_settings().allowed_origins or ()
    if "*" in allowed or seen in {normalize(entry) for entry in allowed}:
        return True
    return bool(host) and _host_allowed(str(host)) and seen == normalize(f"{scheme}://{host}")
