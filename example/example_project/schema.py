"""The project's own GraphQL root types, merged by rxgraphql into the generated schema.

The channels' queries and subscriptions are generated; this adds the ordinary API written with
strawberry-django (``cards``, ``profile``), a ``me`` query and the apps' mutations.
"""

from typing import Any

import strawberry
from asgiref.sync import sync_to_async
from board.api import BoardQuery
from board.schema import BoardMutation
from chat.schema import ChatMutation

from example_project.profile import ProfileQuery


def _username(user: Any) -> str | None:
    """The user's name, or None when anonymous (may touch the session, hence sync)."""
    return str(user.get_username()) if user.is_authenticated else None


async def resolve_me(info: strawberry.Info) -> str | None:
    """Report who the server thinks is asking (handy for checking a token)."""
    return await sync_to_async(_username)(info.context.user)


@strawberry.type
class Query(BoardQuery, ProfileQuery):
    """Extra queries next to the generated channel queries: ``cards``, ``profile`` and ``me``."""

    me: str | None = strawberry.field(
        resolver=resolve_me, description="Username of the signed-in user, or null when anonymous."
    )


@strawberry.type
class Mutation(ChatMutation, BoardMutation):
    """All mutations: ``postMessage``, ``moveCard``, ``renameCard`` and ``addComment``."""
