"""Standard GraphQL clients, used as they come, against the live server: every delete arrives intact.

Apollo Client (``GraphQLWsLink`` with the default ``InMemoryCache``, which normalizes every object by
``__typename`` and ``id``) and urql (default exchanges plus ``subscriptionExchange``) follow a board
through random writes, including one event that deletes a ``Card`` and a ``Comment`` with the same
id (normalized by Apollo as one ``RecordRef:<id>`` object before ``RecordRef`` had one type per
layer). The events each client hands over, applied to the independent reference rebuilder, must give
the nested state the channel's query field returns.
"""

from __future__ import annotations

import json
import queue
import random
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from board.models import Board, Card, Comment

from tests.support.live_server import LiveServer
from tests.support.random_writes import Writer
from tests.support.rebuild import (
    BOARD_NESTED_QUERY,
    BOARD_SUBSCRIPTION,
    BOARD_TREE,
    FlatState,
    normalize_graphql_nested,
)
from tests.support.world import BoardWorld

NODE_DIR = Path(__file__).resolve().parent
WRITES = 40


class NodeClient:
    """The node program's result lines, read by a thread so the test waits on each one."""

    def __init__(self, args: list[str]) -> None:
        self.process = subprocess.Popen(
            ["node", "standard-clients.mjs", *args],
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self) -> dict[str, Any]:
        line = self.lines.get(timeout=30)
        if line is None:
            assert self.process.stderr is not None
            raise AssertionError(f"the client exited early: {self.process.stderr.read()}")
        parsed: dict[str, Any] = json.loads(line)
        assert "error" not in parsed, parsed
        if "event" in parsed:
            self.events.append(parsed["event"])
        return parsed

    def until(self, predicate: Any) -> None:
        while not predicate(self.next()):
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("stop\n")
            self.process.stdin.flush()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _board_title(line: dict[str, Any], board_id: int, title: str) -> bool:
    event = line.get("event") or {}
    return any(
        r.get("__typename") == "Board" and r.get("id") == str(board_id) and r.get("title") == title
        for r in event.get("records", [])
    )


@pytest.mark.parametrize("client", ["apollo", "urql"])
def test_standard_client_keeps_every_delete(
    board_world: BoardWorld, rx_server: LiveServer, client: str, tmp_path: Path
) -> None:
    world = board_world
    board = world.board_a
    document = tmp_path / "board.graphql"
    document.write_text(BOARD_SUBSCRIPTION)
    node = NodeClient(
        [
            "--client",
            client,
            "--url",
            rx_server.ws_url,
            "--token",
            world.token(world.alice),
            "--document",
            str(document),
            "--variables",
            json.dumps({"boardId": str(board.pk)}),
            "--field",
            "boardChannel",
        ]
    )
    try:
        node.until(lambda line: bool((line.get("event") or {}).get("ready")))

        writer = Writer(random.Random(11), world)
        for _ in range(WRITES):
            writer.step()

        # A Card and a Comment with the same id, deleted in one event (the comment goes with its card).
        doomed = Card.objects.filter(column__board=board).order_by("pk").first()
        assert doomed is not None
        doomed_id = doomed.pk
        Comment.objects.filter(pk=doomed_id).delete()
        Comment.objects.create(pk=doomed_id, card=doomed, author=world.alice, text="same id as its card")
        node.until(
            lambda line: any(
                r.get("__typename") == "Comment" and r.get("id") == str(doomed_id)
                for r in (line.get("event") or {}).get("records", [])
            )
        )
        doomed.delete()

        marker = f"marker-{client}"
        fresh = Board.objects.get(pk=board.pk)
        fresh.title = marker
        fresh.save()
        node.until(lambda line: _board_title(line, board.pk, marker))
    finally:
        node.stop()

    twins = {("Card", str(doomed_id)), ("Comment", str(doomed_id))}
    both = [e for e in node.events if twins <= {(d["type"], d["id"]) for d in e["deleted"]}]
    deletes = [e["deleted"] for e in node.events if e["deleted"]]
    assert both, f"no event carried both deletes of id {doomed_id} intact: {deletes}"
    state = FlatState(BOARD_TREE)
    state.apply_all(node.events)
    response = httpx.post(
        rx_server.graphql_url,
        json={"query": BOARD_NESTED_QUERY, "variables": {"boardId": str(board.pk)}},
        headers={"Authorization": f"Token {world.token(world.alice)}"},
        timeout=10,
    )
    nested = response.json()["data"]["boardChannel"]
    assert state.nested("Board", board.pk) == normalize_graphql_nested(nested, BOARD_TREE, "Board")
