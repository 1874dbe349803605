"""Django app config: discovers ``<app>.channels`` modules, names the layer types, connects signals, and
keeps the capture triggers in step after ``migrate``."""

from __future__ import annotations

import atexit
from collections.abc import Iterable
from importlib import import_module

from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate
from django.utils.module_loading import module_has_submodule


class RxGraphQLConfig(AppConfig):
    name = "rxgraphql"
    verbose_name = "rxgraphql"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .changes import connect_signals
        from .flusher import flusher
        from .registry import registry

        discover_channels(apps.get_app_configs())
        registry.finalize()
        connect_signals()
        # post_migrate is only sent for apps with models (rxgraphql has none): listen to all of them.
        post_migrate.connect(_clear_cache_after_migrate, dispatch_uid="rxgraphql:migrate")
        atexit.register(flusher.wait_idle, 10.0)


def discover_channels(configs: Iterable[AppConfig]) -> None:
    """Import every ``<app>.channels`` module; an error inside one surfaces, only absence is skipped."""
    for config in configs:
        if module_has_submodule(config.module, "channels"):
            import_module(f"{config.name}.channels")


def _clear_cache_after_migrate(app_config: AppConfig | None = None, **kwargs: object) -> None:
    """Once per ``migrate`` run, after the signal of the last app that has models: bring the capture
    triggers in step with the channels (PostgreSQL) and clear the cache (the schema may have changed)."""
    from django.db import DEFAULT_DB_ALIAS

    from .backends import reset
    from .capture import uses_triggers

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and app_config is not with_models[-1]:
        return
    using = str(kwargs.get("using") or DEFAULT_DB_ALIAS)
    if using == DEFAULT_DB_ALIAS and uses_triggers():
        from .capture import triggers

        triggers.sync(using)
    reset()
