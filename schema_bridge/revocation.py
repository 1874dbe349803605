"""Revocation: a live subscription whose user loses access stops receiving.

Each subscription has a guard that calls ``has_permission`` again, for the socket's user as its
credentials stand now (the token may be gone, the session signed out):

- at once when a patch touches the anchor's own row (the patch is held until the check passed);
- at once when, in this process, a row changes of a model the channel names in ``Meta.recheck_on``
  (a through model counts for ``m2m_changed``), when the user's token or session is deleted, or the user
  is saved (deactivated);
- every ``PERMISSION_RECHECK_INTERVAL`` seconds otherwise, which also covers changes made by other
  processes. Each guard's period is drawn within 10 % of it (its first within half of it), so that sockets
  opened together do not check together.

Guards of one user on one channel instance (the same class, arguments and credentials) share their checks
(:class:`Verdicts`): a patch holding a thousand of them, or their periods coming due, costs one
``has_permission`` call, not a thousand queued on the worker's threads. A check is shared only by guards
that ask for one begun after what woke them; a periodic one accepts a check begun within half a period.

On loss the operation gets a GraphQL error with code ``FORBIDDEN`` and ``complete``, and nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.apps import apps
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from rxgraphql.conf import rx_settings

if TYPE_CHECKING:
    from rxgraphql.channel import ContextChannel

    from .fanout import Socket

logger = logging.getLogger("rxgraphql.revocation")


class Guard:
    """Watches one subscription's access; ``run()`` returns once it is lost."""

    def __init__(self, connection: Socket, channel: ContextChannel) -> None:
        self.connection = connection
        self.channel = channel
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.checked = asyncio.Event()  # set after each check that kept access
        self.requested = 0  # checks asked for by held patches
        self.passed = 0  # the last of them a check began after, and passed
        self.woken_at = 0.0  # when the last request or trigger came (time.monotonic)
        assert connection.context is not None
        self.user_pk = connection.context.user.pk
        self.token, self.session_key = _credentials(connection)
        self.key: Hashable = (
            type(channel),
            tuple(sorted((name, repr(value)) for name, value in channel.kwargs.items())),
            self.user_pk,
            self.token,
            self.session_key,
        )

    def request(self) -> None:
        """A check that must begin from now on (on the event loop)."""
        self.requested += 1
        self._wake()

    def trigger(self) -> None:
        """Re-check soon; callable from any thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self.woken_at = time.monotonic()
        self.wake.set()

    async def allowed(self, since: float) -> bool:
        """Whether access stands, by a check begun at ``since`` or later (shared with the guards of the
        same key)."""
        return await verdicts.get(self.key, since, self._check)

    async def _check(self) -> bool:
        user = await self.connection.current_user()
        if user is None:
            return False
        try:
            result = await database_sync_to_async(self.channel.has_permission)(user, **self.channel.kwargs)
        except Exception:
            logger.exception("has_permission failed during a re-check: access withdrawn")
            return False
        return result is not NotImplemented and bool(result)

    async def run(self) -> None:
        interval = rx_settings().permission_recheck_interval
        period = interval * random.uniform(0.5, 1.0) if interval > 0 else None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), period)
            woken = self.wake.is_set()
            self.wake.clear()
            since = self.woken_at if woken else time.monotonic() - interval / 2
            asked = self.requested
            if not await self.allowed(since):
                return
            self.passed = asked
            self.checked.set()
            if period is not None:
                period = interval * random.uniform(0.9, 1.1)


class Verdicts:
    """The access checks of this process by guard key: one check answers every guard of the key that asks
    while it runs, or after it began, for ``PERMISSION_RECHECK_INTERVAL`` (then it is forgotten)."""

    def __init__(self) -> None:
        self._checks: dict[Hashable, tuple[float, asyncio.Future[bool]]] = {}

    def get(self, key: Hashable, since: float, check: Callable[[], Awaitable[bool]]) -> Awaitable[bool]:
        found = self._checks.get(key)
        loop = asyncio.get_running_loop()
        if found is not None:
            begun, future = found
            if begun >= since and future.get_loop() is loop and not future.cancelled():
                return asyncio.shield(future)
        future = asyncio.ensure_future(check())
        self._checks[key] = (time.monotonic(), future)
        keep = max(rx_settings().permission_recheck_interval, 1.0)
        future.add_done_callback(lambda _done: loop.call_later(keep, self._forget, key, future))
        return asyncio.shield(future)  # a guard whose socket closes does not cancel the others' check

    def _forget(self, key: Hashable, future: asyncio.Future[bool]) -> None:
        found = self._checks.get(key)
        if found is not None and found[1] is future:
            del self._checks[key]


class Guards:
    """The guards of this process, by channel and by user; Django signals trigger them."""

    def __init__(self) -> None:
        self.by_channel: dict[str, set[Guard]] = {}
        self.by_user: dict[Any, set[Guard]] = {}
        self.lock = threading.Lock()
        self.watched: set[type[models.Model]] = set()
        self.connected = False

    def add(self, guard: Guard) -> None:
        self._connect(type(guard.channel))
        with self.lock:
            self.by_channel.setdefault(type(guard.channel)._meta.channel_name, set()).add(guard)
            self.by_user.setdefault(guard.user_pk, set()).add(guard)

    def remove(self, guard: Guard) -> None:
        with self.lock:
            self.by_channel.get(type(guard.channel)._meta.channel_name, set()).discard(guard)
            self.by_user.get(guard.user_pk, set()).discard(guard)

    def _fire(self, guards: Iterable[Guard]) -> None:
        chosen = list(guards)
        if chosen:
            # After the commit, so the re-check reads what was committed.
            def trigger_all() -> None:
                for guard in chosen:
                    guard.trigger()

            transaction.on_commit(trigger_all)

    def _of_channels(self, model: type[models.Model]) -> list[Guard]:
        with self.lock:
            return [
                guard
                for guards in self.by_channel.values()
                for guard in guards
                if model in recheck_models(type(guard.channel))
            ]

    def _of_user(self, user_pk: Any, token: str | None = None, session_key: str | None = None) -> list[Guard]:
        with self.lock:
            found = list(self.by_user.get(user_pk, ())) if user_pk is not None else []
            if session_key is not None:
                found += [
                    guard
                    for guards in self.by_user.values()
                    for guard in guards
                    if guard.session_key == session_key
                ]
            return found

    # -- signals -----------------------------------------------------------------------------------

    def _connect(self, channel_cls: type[ContextChannel]) -> None:
        with self.lock:
            if not self.connected:
                self.connected = True
                user_model = apps.get_model(*_user_model_label())
                post_save.connect(self._user_saved, sender=user_model, dispatch_uid="rxgraphql-revoke-user")
                post_delete.connect(
                    self._user_saved, sender=user_model, dispatch_uid="rxgraphql-revoke-user-del"
                )
                if apps.is_installed("rest_framework.authtoken"):
                    token_model = apps.get_model("authtoken", "Token")
                    post_delete.connect(
                        self._token_deleted, sender=token_model, dispatch_uid="rxgraphql-revoke-token"
                    )
                if apps.is_installed("django.contrib.sessions"):
                    session_model = apps.get_model("sessions", "Session")
                    post_delete.connect(
                        self._session_deleted, sender=session_model, dispatch_uid="rxgraphql-revoke-session"
                    )
            for model in recheck_models(channel_cls):
                if model not in self.watched:
                    self.watched.add(model)
                    uid = f"rxgraphql-recheck-{model._meta.label}"
                    post_save.connect(self._declared_changed, sender=model, dispatch_uid=uid + "-save")
                    post_delete.connect(self._declared_changed, sender=model, dispatch_uid=uid + "-delete")
                    m2m_changed.connect(self._declared_changed, sender=model, dispatch_uid=uid + "-m2m")

    def _declared_changed(self, sender: type[models.Model], **kwargs: Any) -> None:
        action = kwargs.get("action")
        if action is not None and not str(action).startswith("post_"):
            return  # m2m_changed: act once, after the change
        self._fire(self._of_channels(sender))

    def _user_saved(self, sender: Any, instance: Any, **kwargs: Any) -> None:
        self._fire(self._of_user(instance.pk))

    def _token_deleted(self, sender: Any, instance: Any, **kwargs: Any) -> None:
        self._fire(self._of_user(instance.user_id, token=instance.key))

    def _session_deleted(self, sender: Any, instance: Any, **kwargs: Any) -> None:
        self._fire(self._of_user(None, session_key=instance.session_key))


def _user_model_label() -> tuple[str, str]:
    from django.conf import settings

    app_label, model_name = settings.AUTH_USER_MODEL.split(".")
    return app_label, model_name


def _credentials(connection: Socket) -> tuple[str | None, str | None]:
    authorization, session_key = connection.credentials
    return authorization, None if authorization else session_key


def recheck_models(channel_cls: type[ContextChannel]) -> tuple[type[models.Model], ...]:
    """The models of ``Meta.recheck_on``: a change of one of their rows re-checks the permission."""
    return channel_cls._meta.recheck_on


guards = Guards()
verdicts = Verdicts()
