"""ASGI entry point: rxgraphql serves /graphql (HTTP and websocket), Django the rest."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

from rxgraphql.asgi import get_asgi_application

application = get_asgi_application()
