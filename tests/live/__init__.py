"""End-to-end tests against a live ASGI server and real websocket clients."""
