"""Project package of the rxgraphql example: settings, URLs, ASGI entry point, extra schema."""
