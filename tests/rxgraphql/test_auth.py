"""Who is connecting: a DRF token (``Token`` or ``Bearer``), a Django session, or nobody."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser, User

from rxgraphql.auth import BadCredentials, authenticate, authenticate_sync
from tests.support.world import make_user, session_key_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "token", "bearer"])
def test_a_token_in_either_scheme_is_its_user(scheme: str) -> None:
    user, key = make_user("ann")
    assert authenticate_sync(f"{scheme} {key}", None) == user
    assert authenticate_sync(f"  {scheme}   {key}  ", None) == user


@pytest.mark.parametrize("authorization", ["Token nope", "Basic abc", "Token", "Token  ", "Bearer"])
def test_wrong_or_unsupported_credentials_are_refused(authorization: str) -> None:
    make_user("ann")
    with pytest.raises(BadCredentials):
        authenticate_sync(authorization, None)


def test_the_token_of_an_inactive_user_is_refused() -> None:
    user, key = make_user("ann")
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(BadCredentials):
        authenticate_sync(f"Token {key}", None)


def test_a_session_is_its_user_and_the_token_wins_over_it() -> None:
    ann, _ = make_user("ann")
    bea, bea_key = make_user("bea")
    session_key = session_key_of(ann)
    assert authenticate_sync(None, session_key) == ann
    assert authenticate_sync(f"Token {bea_key}", session_key) == bea


def test_no_credentials_or_an_unknown_session_is_anonymous() -> None:
    assert isinstance(authenticate_sync(None, None), AnonymousUser)
    assert isinstance(authenticate_sync("", None), AnonymousUser)
    assert isinstance(authenticate_sync(None, "no-such-session"), AnonymousUser)


async def test_authenticate_runs_the_same_check_off_the_event_loop() -> None:
    from asgiref.sync import sync_to_async

    user, key = await sync_to_async(make_user)("ann")
    assert await authenticate(f"Token {key}", None) == user
    with pytest.raises(BadCredentials):
        await authenticate("Token wrong", None)
