"""The example project served for real (``manage.py runserver``, daphne) to a headless Chromium.

Each test gets a server on a free loopback port over a fresh copy of one seeded SQLite database, and runs
one scenario of ``scenarios.mjs`` (playwright-core) against it. Screenshots go to ``artifacts/e2e/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "example"
E2E = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM = os.environ.get("RXGRAPHQL_CHROMIUM", "/usr/bin/chromium")
DIST = EXAMPLE / "frontend" / "dist"


def _missing() -> list[str]:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not (E2E / "node_modules" / "playwright-core").is_dir():
        missing.append("tests/e2e/node_modules (scripts/setup runs npm ci there)")
    if not (DIST / "index.html").is_file() or not (DIST / "graphiql.html").is_file():
        missing.append("example/frontend/dist (scripts/setup runs npm run build there)")
    return missing


@pytest.fixture(scope="session")
def e2e_ready() -> None:
    """Fail, naming what is missing, when Chromium or the built frontend is absent (never a skip:
    ``scripts/test`` installs or builds all of it, or stops before pytest saying what it lacks)."""
    missing = _missing()
    if missing:
        pytest.fail("end-to-end tests need " + "; ".join(missing) + " (scripts/test prepares them)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _manage(database: Path, *args: str, timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=EXAMPLE,
        env=_env(database),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def _env(database: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "RXGRAPHQL_", "DATABASE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example_project.settings",
        DATABASE_URL=f"sqlite:///{database}",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture(scope="session")
def seeded_database(e2e_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated and seeded once; every test serves a copy."""
    database = tmp_path_factory.mktemp("e2e-seed") / "seed.sqlite3"
    _manage(database, "migrate", "--noinput", "-v", "0")
    _manage(database, "seed_demo")
    return database


class ExampleServer:
    """``manage.py runserver`` of the example in its own process group; stop/start keep the port."""

    def __init__(self, database: Path, log: Path) -> None:
        self.database = database
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        assert self.process is None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
                cwd=EXAMPLE,
                env=_env(self.database),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the example server exited early:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the example server did not listen within {timeout}s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Kill the server at once (SIGKILL, like a crash) and wait until the port is free."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def write_message(self, room: int, author: str, text: str) -> None:
        """Save a message from another process (``manage.py shell``) straight into the database."""
        code = (
            "from chat.models import Message; from django.contrib.auth.models import User; "
            f"Message.objects.create(room_id={room}, author=User.objects.get(username={author!r}), "
            f"text={text!r})"
        )
        _manage(self.database, "shell", "-c", code)

    def revoke_token(self, username: str) -> None:
        """Delete the user's API tokens (``manage.py shell``): the next connection presents a dead token."""
        code = (
            "from rest_framework.authtoken.models import Token; "
            f"Token.objects.filter(user__username={username!r}).delete()"
        )
        _manage(self.database, "shell", "-c", code)


@pytest.fixture
def example_server(seeded_database: Path, tmp_path: Path) -> Iterator[ExampleServer]:
    database = tmp_path / "db.sqlite3"
    shutil.copyfile(seeded_database, database)
    server = ExampleServer(database, tmp_path / "server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


Handler = Callable[[dict[str, object]], None]


def run_scenario(
    name: str, server: ExampleServer, handlers: dict[str, Handler] | None = None, timeout: float = 150
) -> str:
    """Run ``node scenarios.mjs <name>``, answering its ``@@command {json}`` requests; return its output."""
    handlers = handlers or {}
    env = dict(os.environ, E2E_BASE_URL=server.url, E2E_ARTIFACTS=str(ARTIFACTS), E2E_CHROMIUM=CHROMIUM)
    process = subprocess.Popen(
        ["node", str(E2E / "scenarios.mjs"), name],
        cwd=E2E,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("@@"):
                command, _, payload = line[2:].strip().partition(" ")
                try:
                    handlers[command](json.loads(payload or "{}"))
                    answer = "ok"
                except Exception as error:
                    answer = f"error {type(error).__name__}: {error}".replace("\n", " ")
                lines.append(f"   -> {answer}")
                process.stdin.write(answer + "\n")
                process.stdin.flush()
            if time.monotonic() > deadline:
                break
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    output = "\n".join(lines)
    if process.returncode != 0:
        server_log = server.log.read_text(errors="replace")[-4000:] if server.log.exists() else ""
        pytest.fail(
            f"scenario {name} failed (exit {process.returncode}):\n{output}\n"
            f"--- server log (end) ---\n{server_log}"
        )
    return output
