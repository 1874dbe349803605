"""The signed-in user's profile, with strawberry-django's auth helper and permission extension."""

from __future__ import annotations

import strawberry
import strawberry_django
from board.access import boards_for
from django.contrib.auth.models import User
from strawberry import auto
from strawberry_django.auth.queries import resolve_current_user
from strawberry_django.permissions import IsAuthenticated


@strawberry_django.type(User)
class ProfileType:
    """Who you are signed in as."""

    id: auto
    username: auto
    first_name: auto
    last_name: auto
    email: auto
    date_joined: auto
    is_staff: auto

    @strawberry_django.field(description="How many boards you own or belong to.")
    def board_count(self, root: User) -> int:
        return boards_for(root).count()


@strawberry.type
class ProfileQuery:
    """``profile`` merged into the project's ``Query``."""

    profile: ProfileType = strawberry_django.field(
        resolver=resolve_current_user,
        extensions=[IsAuthenticated(fail_silently=False)],
        description="The signed-in user's profile (an error for anonymous visitors).",
    )
