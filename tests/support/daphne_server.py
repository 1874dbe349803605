"""daphne serving the project in a child process, on the test database (as ``runserver`` does).

daphne's ``websocket.send`` never waits for the client, unlike uvicorn's: behaviour that depends on
back-pressure has to be seen under both.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaphneServer:
    def __init__(self, log: Path, overrides: dict[str, Any]) -> None:
        self.port = _free_port()
        self.log = log
        self.overrides = overrides
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def start(self, timeout: float = 60) -> DaphneServer:
        from rxgraphql.capture import stop_capture

        # The server process propagates the outbox on its own embedded backends: a propagator of this
        # process (left by earlier tests) would take its changes to a cache nobody here watches.
        stop_capture()
        db = connection.settings_dict
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="tests.settings",
            RXGRAPHQL_TEST_DATABASE_URL=(
                f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
            ),
            RXGRAPHQL_OVERRIDES=json.dumps(self.overrides),
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "example")]),
            PYTHONUNBUFFERED="1",
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "daphne",
                    "-b",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "tests.support.daphne_app:application",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)  # daphne reports nothing before it listens: poll the port
        raise RuntimeError(f"daphne did not listen within {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
            self.process = None
