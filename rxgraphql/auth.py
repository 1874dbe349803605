"""Who is connecting: a DRF token (connection payload or ``Authorization`` header) or a Django session."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.module_loading import import_string

from .channel import User


class BadCredentials(Exception):
    """Credentials were sent and are wrong: the connection is refused."""


def _token_user(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        raise BadCredentials("invalid token")
    return token.user


def _session_user(session_key: str) -> Any:
    engine = import_string(f"{settings.SESSION_ENGINE}.SessionStore")
    request = HttpRequest()
    request.session = engine(session_key)
    return get_user(request)


def _authenticate(authorization: str | None, session_key: str | None) -> Any:
    if authorization:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() not in ("token", "bearer") or not credential.strip():
            raise BadCredentials("unsupported authorization")
        return _token_user(credential.strip())
    if session_key:
        return _session_user(session_key)
    return AnonymousUser()


def authenticate_sync(authorization: str | None, session_key: str | None) -> User:
    """``authenticate`` in the calling thread (for code already running in one)."""
    user: User = _authenticate(authorization, session_key)
    return user


async def authenticate(authorization: str | None, session_key: str | None) -> User:
    """The user for these credentials; AnonymousUser when none are given. Raises BadCredentials."""
    user: User = await database_sync_to_async(_authenticate)(authorization, session_key)
    return user
