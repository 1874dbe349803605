"""uvicorn serving ``bench.asgi`` in a separate OS process, so clients and server do not share a GIL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """One uvicorn worker with the embedded backends on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        """Base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The GraphQL websocket endpoint."""
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self, within: float = 30.0) -> ServerProcess:
        """Start uvicorn and wait until it accepts connections."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "bench.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning",
                "--ws-max-size", str(512 * 1024 * 1024),
            ],
            cwd=ROOT,
            env=env,
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("uvicorn did not start")

    def stop(self) -> None:
        """Terminate the process (by its own id) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(15)
