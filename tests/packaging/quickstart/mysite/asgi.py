"""The README's ASGI entry point."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
from rxgraphql.asgi import get_asgi_application

application = get_asgi_application()  # /graphql (HTTP + websocket) beside your Django app
