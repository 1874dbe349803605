"""The npm ``graphql-ws`` client (over the ``ws`` package) against the live server: state, ready, patch."""

import json
import queue
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import LiveServer
from tests.support.world import BoardWorld, make_room

NODE_DIR = Path(__file__).resolve().parent.parent / "node"


def _lines(process: subprocess.Popen[str]) -> "queue.Queue[str | None]":
    """Stdout lines of the client as they come, read by a thread so the test can wait on each."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_json(lines: "queue.Queue[str | None]") -> Any:
    line = lines.get(timeout=20)
    assert line is not None, "the graphql-ws client exited early"
    return json.loads(line)


def test_npm_graphql_ws_client_gets_state_ready_then_patch(
    board_world: BoardWorld, rx_server: LiveServer
) -> None:
    world = board_world
    room = make_room("npm", world.alice, world.bob)
    process = subprocess.Popen(
        [
            "node",
            "subscribe.mjs",
            "--url",
            rx_server.ws_url,
            "--token",
            world.token(world.bob),
            "--room",
            str(room.pk),
            "--events",
            "2",
        ],
        cwd=NODE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _lines(process)
        assert _next_json(lines) == {"status": "connected"}
        snapshot = _next_json(lines)["data"]["chatRoomChannel"]
        assert snapshot["reset"] is True
        assert snapshot["ready"] is True
        rooms = [r for r in snapshot["records"] if r["__typename"] == "ChatRoom"]
        assert [r["id"] for r in rooms] == [str(room.pk)]

        response = httpx.post(
            rx_server.graphql_url,
            json={
                "query": "mutation($r: ID!) { postMessage(roomId: $r, text: \"from alice\") { id } }",
                "variables": {"r": str(room.pk)},
            },
            headers={"Authorization": f"Token {world.token(world.alice)}"},
            timeout=10,
        )
        message_id = response.json()["data"]["postMessage"]["id"]

        patch = _next_json(lines)["data"]["chatRoomChannel"]
        assert patch["reset"] is False
        assert patch["ready"] is True
        messages = [r for r in patch["records"] if r["__typename"] == "Message"]
        assert messages == [
            {**messages[0], "id": message_id, "text": "from alice", "author": str(world.alice.pk)}
        ]
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
