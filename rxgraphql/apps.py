"""Django app config: discovers ``<app>.channels`` modules, names the layer types, connects signals."""

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
    """Once per ``migrate`` run: after the signal of the last app that has models."""
    from .backends import reset

    with_models = [config for config in apps.get_app_configs() if config.models_module is not None]
    if with_models and app_config is not with_models[-1]:
        return
    reset()
