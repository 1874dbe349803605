"""App config of the board app."""

from django.apps import AppConfig


class BoardConfig(AppConfig):
    """Registers the board models and the ``seed_demo`` command."""

    name = "board"
    default_auto_field = "django.db.models.BigAutoField"
