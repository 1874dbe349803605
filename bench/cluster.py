"""The two-worker configuration of B1: a private redis-server, the MongoDB stand-in and two uvicorn workers.

No MongoDB server exists on the machine the suite was written on, so the record cache is the test suite's
stand-in (``tests.support.mongo_standin``: mongomock behind the MongoDB wire protocol, one process shared by
both workers, as ``scripts/example-cluster`` does). ``RXGRAPHQL_BENCH_MONGO_URL`` points the workers at
a real server instead. Every process is started on a free port and stopped at the end, also on failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from types import TracebackType

from bench.server import ROOT, ServerProcess, free_port, stop_process, wait_port

REAL_MONGO_URL = os.environ.get("RXGRAPHQL_BENCH_MONGO_URL")


class Cluster:
    """Redis, MongoDB (stand-in unless configured) and two workers on them; a context manager."""

    def __init__(self) -> None:
        self.redis_port = free_port()
        self.redis_dir = tempfile.mkdtemp(prefix="rxgraphql-bench-redis-")
        self.redis: subprocess.Popen[bytes] | None = None
        self.mongo: subprocess.Popen[bytes] | None = None
        self.workers: list[ServerProcess] = []
        self.mongo_database = f"rxbench_{uuid.uuid4().hex[:8]}"

    @property
    def mongo_kind(self) -> str:
        """What serves MongoDB, for the table's note."""
        return "a MongoDB server" if REAL_MONGO_URL else "the MongoDB stand-in (mongomock over the wire)"

    def __enter__(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _start(self) -> None:
        redis_server = shutil.which("redis-server")
        if redis_server is None:
            raise RuntimeError("redis-server is not installed")
        self.redis = subprocess.Popen(
            [
                redis_server,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.redis_dir,
            ],
            stdout=subprocess.DEVNULL,
        )
        mongo_url = REAL_MONGO_URL
        if mongo_url is None:
            mongo_port = free_port()
            self.mongo = subprocess.Popen(
                [sys.executable, "-m", "tests.support.mongo_standin", "--port", str(mongo_port)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            wait_port(mongo_port, self.mongo)
            mongo_url = f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
        wait_port(self.redis_port, self.redis)
        env = {
            "DJANGO_SETTINGS_MODULE": "bench.settings_cluster",
            "RXGRAPHQL_BENCH_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "RXGRAPHQL_BENCH_MONGO_URL": mongo_url,
            "RXGRAPHQL_BENCH_MONGO_DATABASE": self.mongo_database,
        }
        _sync_triggers(env)  # as `migrate` leaves them in a deployment on these backends
        for _ in range(2):
            self.workers.append(ServerProcess(env=env).start())

    def stop(self) -> None:
        """Stop the workers, then the backends; remove Redis's directory."""
        for worker in self.workers:
            worker.stop()
        stop_process(self.mongo)
        if REAL_MONGO_URL:
            from pymongo import MongoClient

            client: MongoClient[dict[str, object]] = MongoClient(
                REAL_MONGO_URL, serverSelectionTimeoutMS=3000
            )
            client.drop_database(self.mongo_database)
            client.close()
        stop_process(self.redis)
        shutil.rmtree(self.redis_dir, ignore_errors=True)
        _sync_triggers({"DJANGO_SETTINGS_MODULE": "bench.settings"})  # back to the embedded figures


def _sync_triggers(env: dict[str, str]) -> None:
    """Bring the capture triggers in step with the settings of ``env`` (their notifications differ
    between the embedded and the shared backends; see ``rxgraphql.capture.triggers``)."""
    code = (
        "import sys; sys.path.insert(0, 'example'); import django; django.setup(); "
        "from rxgraphql.capture import triggers; triggers.sync()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, check=True)
