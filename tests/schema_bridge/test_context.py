"""``info.context``: the user always set, and ``request.user`` answering it over HTTP and on a websocket."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from starlette.requests import Request

from schema_bridge.context import ConnectionRequest, RxContext


def test_on_a_websocket_the_request_is_the_connections_user() -> None:
    user = User(username="ann")
    context = RxContext(user=user)
    assert isinstance(context.request, ConnectionRequest)
    assert context.request.user is user
    assert (context.connection_params, context.live_channels) == ({}, {})


def test_over_http_the_starlette_request_answers_the_user() -> None:
    user = User(username="ann")
    request = Request({"type": "http", "method": "POST", "path": "/graphql", "headers": []})
    context = RxContext(user=user, request=request)
    assert context.request is request
    assert request.user is user


def test_a_request_without_a_scope_is_left_alone() -> None:
    other = object()
    assert RxContext(user=AnonymousUser(), request=other).request is other


def test_each_context_has_its_own_live_channels() -> None:
    first, second = RxContext(user=AnonymousUser()), RxContext(user=AnonymousUser())
    first.live_channels[("c", "1")] = object()
    assert second.live_channels == {}
