"""A real uvicorn server in a background thread, for end-to-end tests.

The websocket protocol, the HTTP endpoint and the publishing of ORM writes from other
threads only show their real behaviour through a real server, so the tests run the
project's ASGI application under uvicorn on a free loopback port.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn

HOST = "127.0.0.1"


class LiveServer:
    """Runs ``app`` under uvicorn on its own event loop in a daemon thread."""

    def __init__(self, app: Any, start_timeout: float = 15.0) -> None:
        self.app = app
        self.start_timeout = start_timeout
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=HOST,
                port=0,
                lifespan="off",
                log_level="warning",
                ws="websockets-sansio",
            )
        )
        self.thread: threading.Thread | None = None
        self.port: int | None = None
        self.error: BaseException | None = None

    @property
    def url(self) -> str:
        """Base HTTP URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def graphql_url(self) -> str:
        """HTTP GraphQL endpoint."""
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        """Websocket GraphQL endpoint."""
        return f"ws://{HOST}:{self.port}/graphql"

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve())
        except BaseException as error:  # surfaced by start() / stop()
            self.error = error

    def start(self) -> LiveServer:
        """Start serving and wait until uvicorn reports it is listening."""
        self.thread = threading.Thread(target=self._run, name="live-uvicorn", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start: {self.error!r}")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start in time")
            # uvicorn exposes no start event, only the ``started`` flag; poll it briefly.
            time.sleep(0.01)
        sockets = self.server.servers[0].sockets
        self.port = int(sockets[0].getsockname()[1])
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Ask uvicorn to exit and wait for its thread."""
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                self.server.force_exit = True
                self.thread.join(timeout)
            if self.thread.is_alive():
                raise RuntimeError("uvicorn did not stop")
