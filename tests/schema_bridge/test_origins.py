"""Origins compared whole (scheme, host, port); ALLOWED_HOSTS never widens the allowed origins."""

from __future__ import annotations

from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from schema_bridge.origins import normalize, origin_allowed, request_scheme


def test_normalize_writes_the_default_port_and_rejects_non_origins() -> None:
    assert normalize("http://Example.COM") == "http://example.com:80"
    assert normalize("https://example.com:443/") == "https://example.com:443"
    assert normalize("http://[::1]:8000") == "http://[::1]:8000"
    for bad in ("null", "file:///etc/passwd", "ws://example.com", "http://", "http://x:99999", "http://a/b"):
        assert normalize(bad) is None, bad


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://127.0.0.1:8000", True),
        ("http://127.0.0.1:18299", False),  # another port of the same host
        ("https://127.0.0.1:8000", False),  # another scheme
        ("https://127.0.0.1", False),
        ("http://localhost:8000", False),  # another host name of the same machine
        ("null", False),
    ],
)
def test_without_a_setting_only_the_servers_own_origin(
    settings: SettingsWrapper, origin: str, allowed: bool
) -> None:
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "ALLOWED_ORIGINS": None}
    assert origin_allowed(origin, "127.0.0.1:8000", "http") is allowed


def test_allowed_hosts_star_never_means_any_origin(settings: SettingsWrapper) -> None:
    settings.ALLOWED_HOSTS = ["*"]
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "ALLOWED_ORIGINS": None}
    assert not origin_allowed("http://evil.example", "127.0.0.1:8000", "http")
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", "http")


def test_a_host_outside_allowed_hosts_has_no_own_origin(settings: SettingsWrapper) -> None:
    settings.ALLOWED_HOSTS = ["app.example"]
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "ALLOWED_ORIGINS": None}
    assert not origin_allowed("http://rebound.example", "rebound.example", "http")
    assert origin_allowed("https://app.example", "app.example", "https")


def test_explicit_allowed_origins_are_compared_whole(settings: SettingsWrapper) -> None:
    settings.RXGRAPHQL = {**settings.RXGRAPHQL, "ALLOWED_ORIGINS": ["http://localhost:5173"]}
    assert origin_allowed("http://localhost:5173", "127.0.0.1:8000", "http")
    assert not origin_allowed("http://localhost:5174", "127.0.0.1:8000", "http")
    assert not origin_allowed("https://localhost:5173", "127.0.0.1:8000", "http")
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", "http")  # its own, as always


def test_no_origin_is_a_non_browser_client() -> None:
    assert origin_allowed(None, "127.0.0.1:8000", "http")


def test_scheme_from_the_scope_or_the_trusted_proxy_header(settings: SettingsWrapper) -> None:
    scope: dict[str, Any] = {"scheme": "wss"}
    assert request_scheme(scope, {}) == "https"
    assert request_scheme({"scheme": "ws"}, {}) == "http"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert request_scheme({"scheme": "http"}, {"x-forwarded-proto": "https"}) == "https"
    assert request_scheme({"scheme": "http"}, {}) == "http"
