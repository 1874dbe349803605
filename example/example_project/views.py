"""Landing page that explains the example and, in DEBUG, hands out the demo tokens."""

from board.management.demo_data import DEMO_USERS
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from rest_framework.authtoken.models import Token

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rxgraphql example</title>
<style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
code{{background:#f3f3f3;padding:0 .25rem}}</style></head><body>
<h1>rxgraphql example</h1>
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


def home(request: HttpRequest) -> HttpResponse:
    """Describe the example; list demo tokens only while DEBUG is on."""
    tokens = _token_list() if settings.DEBUG else ""
    return HttpResponse(PAGE.format(tokens=tokens))
