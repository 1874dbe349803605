"""The browser app (the built frontend), its sign-in API, and a fallback landing page.

``/`` serves ``frontend/dist/index.html`` once ``npm run build`` has run; before that, a page that
explains the example and, in DEBUG, hands out the demo tokens.
"""

from pathlib import Path
from typing import Any

from board.access import boards_for
from board.management.demo_data import DEMO_USERS
from chat.models import ChatRoom
from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.utils._os import safe_join
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rxgraphql example</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:0 .25rem}}</style></head><body>
<h1>rxgraphql example</h1>
<p><strong>The browser app is not built yet:</strong> run <code>scripts/example</code> (or
<code>npm ci &amp;&amp; npm run build</code> in <code>example/frontend</code>) and reload.</p>
<p>A chat and a kanban board whose nested DRF serializers are served as live GraphQL
subscriptions: subscribe to <code>chatRoomChannel(roomId:)</code> or
<code>boardChannel(boardId:)</code>, then change data with a mutation or in the admin
and watch the patches arrive.</p>
<ul><li><a href="/graphql">GraphiQL</a> (queries, mutations and subscriptions)</li>
<li><a href="/admin/">Django admin</a> (sign in as <code>alice</code> / <code>demo</code>)</li></ul>
{tokens}
</body></html>"""


def _token_list() -> str:
    """HTML listing the demo users' tokens, or a hint to run ``seed_demo``."""
    tokens = Token.objects.filter(user__username__in=DEMO_USERS).select_related("user")
    rows = format_html_join(
        "",
        '<li><code>{}</code>: <code>{{"authorization": "Token {}"}}</code></li>',
        ((token.user.username, token.key) for token in tokens.order_by("user__username")),
    )
    if not rows:
        return mark_safe("<p>No demo users yet: run <code>python manage.py seed_demo</code>.</p>")
    return format_html(
        "<h2>Demo users</h2><p>Password <code>demo</code>. Paste a line into GraphiQL's "
        "connection params (or send it as the <code>Authorization</code> header):</p>"
        "<ul>{}</ul>",
        rows,
    )


def _dist() -> Path:
    return Path(settings.FRONTEND_DIST)


@never_cache
def home(request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
    """The app's index.html for its paths (``/``, ``/chat/<id>``, ``/board/<id>``), else the landing page."""
    index = _dist() / "index.html"
    if index.is_file():
        return FileResponse(index.open("rb"), content_type="text/html; charset=utf-8")
    tokens = _token_list() if settings.DEBUG else ""
    return HttpResponse(PAGE.format(tokens=tokens))


def frontend_asset(request: HttpRequest, path: str) -> FileResponse:
    """A file of ``dist/assets`` (names carry a content hash, so they are cached for a year)."""
    try:
        file = Path(safe_join(_dist() / "assets", path))
    except ValueError:
        raise Http404(path) from None
    if not file.is_file():
        raise Http404(path)
    response = FileResponse(file.open("rb"))
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


class TokenLogin(ObtainAuthToken):
    """``POST /api/token/ {"username", "password"}`` answers ``{"token"}`` (DRF's view, without session auth,
    so a signed-in admin session does not make it require a CSRF token)."""

    authentication_classes = ()


@api_view(["GET"])
@authentication_classes([TokenAuthentication])
@permission_classes([IsAuthenticated])
def me(request: Request) -> Response:
    """The signed-in user with the chat rooms and boards they may open."""
    user = request.user
    rooms = ChatRoom.objects.filter(participants__pk=user.pk).order_by("pk")
    boards = boards_for(user).order_by("pk")
    return Response(
        {
            "id": user.pk,
            "username": user.get_username(),
            "rooms": [{"id": room.pk, "name": room.name} for room in rooms],
            "boards": [{"id": board.pk, "title": board.title} for board in boards],
        }
    )
