"""Processes of the multi-process tests: ASGI servers (uvicorn) and writers, on Redis and MongoDB.

Every process is a real OS process on loopback sharing the test's PostgreSQL database, a private
redis-server (which the fault tests kill) and MongoDB: a real server when ``RXGRAPHQL_TEST_MONGO_URL`` is
set, otherwise ONE stand-in server process (``tests.support.mongo_standin``: mongomock behind the MongoDB
wire protocol) that every process talks to with the real pymongo clients. The test ids name which
(``mongo-server`` / ``mongo-standin``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection

from tests.support.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[2]
MONGO_URL = os.environ.get("RXGRAPHQL_TEST_MONGO_URL")
MONGO_KIND = "mongo-server" if MONGO_URL else "mongo-standin"


def _wait_port(port: int, process: subprocess.Popen[bytes], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


@pytest.fixture(scope="session")
def mp_mongo_url() -> Iterator[str]:
    if MONGO_URL:
        yield MONGO_URL
        return
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.mongo_standin", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _wait_port(port, process)
    try:
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        process.terminate()
        process.wait(10)


def _database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@dataclass
class Cluster:
    """Starts servers and writers with the same environment; stops them all at the end."""

    redis: RedisServer
    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            args, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def server(self, slow_heat: float = 0.0) -> Server:
        port = free_port()
        process = self._spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "tests.multiproc.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws",
                "websockets-sansio",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            f"server-{port}",
            RXGRAPHQL_MP_SLOW_HEAT=str(slow_heat),
        )
        _wait_port(port, process)
        return Server(port, process)

    def writer(self, *args: str) -> subprocess.Popen[bytes]:
        return self._spawn(
            [sys.executable, "-m", "tests.multiproc.writer", *args], f"writer-{uuid.uuid4().hex[:6]}"
        )

    def run_orm(self, code: str, within: float = 60.0) -> None:
        """Run ORM statements in a process of their own; returns once their changes are propagated."""
        script = (
            "import django; django.setup()\n"
            f"{code}\n"
            "from rxgraphql.capture import wait_propagated\n"
            "assert wait_propagated(30)\n"
        )
        process = self._spawn([sys.executable, "-c", script], f"orm-{uuid.uuid4().hex[:6]}")
        assert process.wait(within) == 0, f"the ORM process failed; see {self.logs}"

    def wait(self, writers: list[subprocess.Popen[bytes]], within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        for process in writers:
            code = process.wait(max(1.0, deadline - time.monotonic()))
            assert code == 0, f"a writer failed; see {self.logs}"

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.logs.glob("*.log")))

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(10)


@pytest.fixture
def cluster(
    transactional_db: None, _release_test_database: None, mp_mongo_url: str, tmp_path: Path
) -> Iterator[Cluster]:
    from rxgraphql.capture import stop_capture

    # The test process is no member of the cluster: an outbox propagator left running by earlier tests
    # (on its embedded backends) would claim the cluster's changes and find nobody watching them.
    stop_capture()
    redis = RedisServer().start()
    database = f"rxmp_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "example")]),
        "DJANGO_SETTINGS_MODULE": "tests.multiproc.settings",
        "RXGRAPHQL_TEST_DATABASE_URL": _database_url(),
        "RXGRAPHQL_MP_REDIS_URL": redis.url,
        "RXGRAPHQL_MP_MONGO_URL": mp_mongo_url,
        "RXGRAPHQL_MP_MONGO_DATABASE": database,
        "RXGRAPHQL_MP_HEAT_LEASE": "3",
    }
    made = Cluster(redis, env, tmp_path)
    try:
        yield made
    finally:
        made.stop()
        redis.stop()
        from pymongo import MongoClient

        client: MongoClient[dict[str, object]] = MongoClient(mp_mongo_url, serverSelectionTimeoutMS=3000)
        client.drop_database(database)
        client.close()
