"""Every concrete ContextChannel of the project, and the index from models to the layers that show them."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import TYPE_CHECKING

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .layers import Layer

if TYPE_CHECKING:
    from .channel import ContextChannel


def _base_type_name(layer: Layer) -> str:
    name = layer.serializer_class.__name__
    if name.endswith("Serializer") and name != "Serializer":
        name = name[: -len("Serializer")]
    return name


def _app_prefix(layer: Layer) -> str:
    config = apps.get_containing_app_config(layer.serializer_class.__module__)
    label = config.label if config else layer.serializer_class.__module__.split(".")[0]
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_.]", label) if part)


class Registry:
    def __init__(self) -> None:
        self.channels: dict[str, type[ContextChannel]] = {}
        self.by_model: dict[type[models.Model], list[tuple[type[ContextChannel], Layer]]] = {}
        self.ready = False

    def register(self, channel: type[ContextChannel]) -> None:
        for other in self.channels.values():
            if (
                other._meta.field_name == channel._meta.field_name
                and other._meta.channel_name != channel._meta.channel_name
            ):
                raise ImproperlyConfigured(
                    f"{channel._meta.channel_name} and {other._meta.channel_name} would both be "
                    f"the GraphQL field '{channel._meta.field_name}'"
                )
        self.channels[channel._meta.channel_name] = channel
        if self.ready:
            self.finalize()

    def get(self, channel_name: str) -> type[ContextChannel]:
        return self.channels[channel_name]

    def layers(self) -> list[Layer]:
        return [layer for channel in self.channels.values() for layer in channel._meta.layers]

    def finalize(self) -> None:
        """Name every layer type (prefixing clashing names with the app) and index layers by model."""
        by_class: dict[type, list[Layer]] = defaultdict(list)
        for layer in self.layers():
            by_class[layer.serializer_class].append(layer)
        by_name: dict[str, list[type]] = defaultdict(list)
        for cls, layers in by_class.items():
            by_name[_base_type_name(layers[0])].append(cls)
        for base, classes in by_name.items():
            for cls in classes:
                layer = by_class[cls][0]
                name = base if len(classes) == 1 else _app_prefix(layer) + base
                for same in by_class[cls]:
                    same.type_name = name
        names: dict[str, type] = {}
        for cls, layers in by_class.items():
            taken = names.setdefault(layers[0].type_name, cls)
            if taken is not cls:
                raise ImproperlyConfigured(
                    f"{taken.__module__}.{taken.__qualname__} and {cls.__module__}.{cls.__qualname__} "
                    f"both map to the GraphQL type '{layers[0].type_name}'"
                )
        index: dict[type[models.Model], list[tuple[type[ContextChannel], Layer]]] = defaultdict(list)
        for channel in self.channels.values():
            for layer in channel._meta.layers:
                index[layer.model].append((channel, layer))
        self.by_model = dict(index)
        self.ready = True


registry = Registry()
