"""App config of the chat app."""

from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Registers the chat models; rxgraphql finds ``chat.channels`` on its own."""

    name = "chat"
    default_auto_field = "django.db.models.BigAutoField"
