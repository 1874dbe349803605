"""The package as a user gets it: a wheel built from the repository, installed with ``rxgraphql[server]`` in
a fresh virtualenv (dependencies from PyPI, through pip's cache), running the README's Quickstart project:
``migrate``, ``makefrontend`` and one live subscription that receives a save.

The wheel must carry the TypeScript runtime ``makefrontend`` copies, and nothing of its development
(``node_modules``, tests, test helpers).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.aio import LoopThread
from tests.support.gql_ws import GraphQLWsClient
from tests.support.waiting import wait_until

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = Path(__file__).resolve().parent / "quickstart"
SUBSCRIPTION = """
subscription($room: ID!) {
  chatRoomChannel(roomId: $room) {
    cursor reset ready
    records {
      __typename
      ... on ChatRoom { id name participants messages }
      ... on Message { id text createdAt author }
      ... on User { id username }
    }
    deleted { type id }
  }
}
"""
POST = "mutation($room: ID!, $text: String!) { postMessage(roomId: $room, text: $text) }"


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's Python or Django settings leaking in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "DJANGO_", "RXGRAPHQL_", "VIRTUAL_ENV"))
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_PROGRESS_BAR="off", PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from the repository's tracked files, with a node_modules beside the runtime (as a
    developer's checkout has) that must stay out of it."""
    source = tmp_path_factory.mktemp("source")
    tracked = run("git", "ls-files", "-z", cwd=ROOT).split("\0")
    for name in filter(None, tracked):
        target = source / name
        if (ROOT / name).is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target)
    stray = source / "codegen" / "runtime" / "node_modules" / "graphql-ws" / "index.js"
    stray.parent.mkdir(parents=True)
    stray.write_text("// a dependency of the runtime's own tests\n")
    dist = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, source)
    (built,) = dist.glob("rxgraphql-*.whl")
    return built


def test_the_wheel_carries_the_typescript_runtime_and_nothing_of_its_development(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    runtime = {n.removeprefix("codegen/runtime/") for n in names if n.startswith("codegen/runtime/")}
    expected = {p.name for p in (ROOT / "codegen" / "runtime").glob("*.ts") if ".test." not in p.name}
    expected.discard("vitest.config.ts")
    assert expected <= runtime, expected - runtime
    assert "index.ts" in runtime
    assert "store.ts" in runtime
    assert not [n for n in runtime if "node_modules" in n or ".test." in n or n.startswith("testing/")], (
        runtime
    )
    assert {"rxgraphql/py.typed", "schema_bridge/py.typed", "codegen/py.typed"} <= names


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with ``rxgraphql[server]`` installed from the wheel; returns its python."""
    venv = tmp_path_factory.mktemp("venv")
    base = getattr(sys, "_base_executable", sys.executable)
    run(base, "-m", "venv", venv, env=clean_env())
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", f"rxgraphql[server] @ {wheel.as_uri()}", env=clean_env())
    return python


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, target)
    return target


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(installed: Path, project: Path) -> Iterator[tuple[int, str, str]]:
    """The migrated quickstart under ``manage.py runserver`` (daphne): (port, token, room id)."""
    env = clean_env()
    manage = [installed, "manage.py"]
    location = run(installed, "-c", "import rxgraphql; print(rxgraphql.__file__)", cwd=project, env=env)
    assert Path(location.strip()).is_relative_to(installed.parent.parent), "rxgraphql from the checkout"
    run(*manage, "makemigrations", "chat", cwd=project, env=env)
    run(*manage, "migrate", "--noinput", cwd=project, env=env)
    made = run(
        *manage,
        "shell",
        "-c",
        "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
        "from chat.models import ChatRoom; u = User.objects.create_user('ada'); "
        "room = ChatRoom.objects.create(name='lobby'); room.participants.add(u); "
        "print('@@', Token.objects.create(user=u).key, room.pk)",
        cwd=project,
        env=env,
    )
    (line,) = [line for line in made.splitlines() if line.startswith("@@ ")]
    _, token, room = line.split()
    port = _free_port()
    log = (project / "server.log").open("wb")
    server = subprocess.Popen(
        [str(installed), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def listening() -> bool:
        assert server.poll() is None, (project / "server.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return False
        return True

    try:
        wait_until(listening, "the quickstart server listens", guard=120)
        yield port, token, room
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)
        log.close()


def test_makefrontend_writes_the_typed_client_with_the_runtime(installed: Path, project: Path) -> None:
    run(installed, "manage.py", "makefrontend", cwd=project, env=clean_env())
    out = project / "frontend" / "src" / "rx"
    assert "useChatRoomChannel" in (out / "hooks.ts").read_text()
    assert (out / "runtime" / "store.ts").is_file()
    assert not list(out.rglob("*.test.ts"))
    run(installed, "manage.py", "makefrontend", "--check", cwd=project, env=clean_env())


def test_the_quickstart_streams_a_live_subscription(served: tuple[int, str, str], aio: LoopThread) -> None:
    port, token, room = served

    async def scenario() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        client = await GraphQLWsClient(f"ws://127.0.0.1:{port}/graphql").connect(token)
        try:
            subscription = await client.subscribe(SUBSCRIPTION, {"room": room})
            snapshot = await subscription.until_ready(within=60)
            posted = await client.execute(POST, {"room": room, "text": "hello from the wheel"}, within=30)
            assert "errors" not in posted, posted
            return snapshot, await subscription.next_event(within=30)
        finally:
            await client.close()

    snapshot, patch = aio.run(scenario(), 180)
    rooms = [r for event in snapshot for r in event["records"] if r["__typename"] == "ChatRoom"]  # type: ignore[index, union-attr]
    assert rooms == [
        {"__typename": "ChatRoom", "id": room, "name": "lobby", "participants": ["1"], "messages": []}
    ]
    messages = [r for r in patch["records"] if r["__typename"] == "Message"]  # type: ignore[attr-defined, index]
    assert [m["text"] for m in messages] == ["hello from the wheel"]
