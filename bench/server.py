"""uvicorn serving an ASGI app of the benchmarks in a separate OS process, so clients and server do not
share a GIL; also the port helpers the other processes of the suite use.

Every worker runs the bench's agent (``bench.agent``: the writer thread of B1/B5 and the event-loop lag
probe) on a port of its own, ``agent_port``.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes], within: float = 30.0) -> None:
    """Return once something accepts connections on ``port``; fail if ``process`` exits first."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # nothing to await: the port opens in another process
    raise TimeoutError(f"nothing listens on {port}")


def raise_file_limit() -> None:
    """Lift the soft limit of open files to the hard one (thousands of sockets); run in the child."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    """Terminate one process we started (by its own id) and wait for it; kill it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(15)


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class ServerProcess:
    """One uvicorn worker on a free loopback port; by default ``bench.asgi`` with the embedded backends."""

    def __init__(self, app: str = "bench.asgi:application", env: dict[str, str] | None = None) -> None:
        self.app = app
        self.env = env or {}
        self.port = free_port()
        self.agent_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        """Base HTTP URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The GraphQL websocket endpoint."""
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def pid(self) -> int:
        """The worker's process id."""
        assert self.process is not None
        return self.process.pid

    def start(self, within: float = 30.0) -> ServerProcess:
        """Start uvicorn and wait until it accepts connections."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "RXGRAPHQL_BENCH_AGENT_PORT": str(self.agent_port),
            **self.env,
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                self.app,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
                "--backlog",
                "4096",
                "--ws-max-size",
                str(512 * 1024 * 1024),
            ],
            cwd=ROOT,
            env=env,
            preexec_fn=raise_file_limit,
        )
        wait_port(self.port, self.process, within)
        wait_port(self.agent_port, self.process, within)
        return self

    def stop(self) -> None:
        """Terminate the process (by its own id) and wait for it."""
        stop_process(self.process)
