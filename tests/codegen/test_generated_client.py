"""The generated TypeScript, type-checked with ``tsc --strict`` and run in Node against the live server.

A Node program follows a board through the generated ``BoardChannel``; after random writes, and again
after the server restarts under it, its rebuilt state equals the serializer's output.
"""

from __future__ import annotations

import json
import queue
import random
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from board.models import Board
from django.core.management import call_command

from rxgraphql.asgi import get_asgi_application
from rxgraphql.capture import wait_propagated
from tests.support.live_server import LiveServer
from tests.support.random_writes import Writer
from tests.support.rebuild import BOARD_TREE, normalize_graphql_nested
from tests.support.typescript import NODE_DIR, assert_tsc_passes
from tests.support.world import BoardWorld, board_expected


@pytest.fixture(scope="module")
def compiled_client() -> Path:
    """Generate the client for the example into tests/node/generated and compile it with tsc --strict."""
    call_command("makefrontend", "--out", str(NODE_DIR / "generated"))
    assert_tsc_passes(NODE_DIR)
    return NODE_DIR / "dist" / "board-client.js"


class BoardClient:
    """The Node program's output, line by line."""

    def __init__(self, script: Path, url: str, token: str, board_id: int) -> None:
        self.process = subprocess.Popen(
            ["node", str(script), "--url", url, "--token", token, "--board", str(board_id)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def until(self, predicate: Any, timeout: float = 20) -> dict[str, Any]:
        """The first output line satisfying ``predicate`` (raises queue.Empty on timeout)."""
        while True:
            line = self.lines.get(timeout=timeout)
            assert line is not None, "the Node client exited"
            assert "error" not in line, line
            if predicate(line):
                return line

    def state_titled(self, title: str) -> dict[str, Any]:
        line = self.until(lambda line: "state" in line and line["state"] and line["state"]["title"] == title)
        state: dict[str, Any] = line["state"]
        return state

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()


@pytest.fixture
def board_client(
    compiled_client: Path, board_world: BoardWorld, rx_server: LiveServer
) -> Iterator[BoardClient]:
    world = board_world
    client = BoardClient(compiled_client, rx_server.ws_url, world.token(world.alice), world.board_a.pk)
    try:
        yield client
    finally:
        client.close()


def _mark(board: Board, title: str) -> None:
    """Save the board's title once every earlier write is propagated (else the marker could arrive in a
    patch read before an earlier change's own patch)."""
    assert wait_propagated(20)
    board.refresh_from_db()
    board.title = title
    board.save()


def test_generated_client_converges_after_writes_and_a_server_restart(
    board_world: BoardWorld, rx_server: LiveServer, board_client: BoardClient
) -> None:
    world = board_world
    board = world.board_a
    board_client.until(lambda line: "state" in line)
    writer = Writer(random.Random(11), world)
    for _ in range(80):
        writer.step()
    _mark(board, "after writes")
    state = board_client.state_titled("after writes")
    assert normalize_graphql_nested(state, BOARD_TREE, "Board") == board_expected(board.pk)

    port = rx_server.port
    rx_server.stop()
    board_client.until(lambda line: line.get("status") == "reconnecting")
    for _ in range(40):
        writer.step()  # missed while the server is down
    restarted = LiveServer(get_asgi_application())
    restarted.server.config.port = port
    restarted.start()
    try:
        board_client.until(lambda line: line.get("status") == "connected")
        _mark(board, "after restart")
        state = board_client.state_titled("after restart")
        assert normalize_graphql_nested(state, BOARD_TREE, "Board") == board_expected(board.pk)
    finally:
        restarted.stop()
