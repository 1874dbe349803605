"""The generator: deterministic TypeScript from an introspection result, with documents the server accepts."""

from __future__ import annotations

import json
import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from graphql import parse, validate

from codegen.channels import Ref, find_channels
from codegen.generate import generate, runtime_files
from codegen.introspection import load_schema
from rxgraphql.management.commands.makefrontend import introspect_project
from schema_bridge.schema import get_schema
from tests.support.live_server import LiveServer
from tests.support.typescript import NODE_DIR, assert_tsc_passes


@pytest.fixture(scope="module")
def introspection() -> dict[str, Any]:
    return introspect_project()


def test_output_is_deterministic_whatever_the_type_order(introspection: dict[str, Any]) -> None:
    shuffled = {"__schema": dict(introspection["__schema"])}
    types = list(shuffled["__schema"]["types"])
    random.Random(7).shuffle(types)
    shuffled["__schema"]["types"] = types
    assert generate(introspection) == generate(shuffled)


def test_board_channel_model_is_recovered_from_the_schema(introspection: dict[str, Any]) -> None:
    channels = {c.field: c for c in find_channels(load_schema(introspection))}
    assert set(channels) == {"boardChannel", "boardPresenceChannel", "chatRoomChannel", "myBoardsChannel"}
    board = channels["boardChannel"]
    assert board.root == "Board"
    assert not board.many
    assert [a.name for a in board.arguments] == ["boardId"]
    assert board.refs["Card"] == {
        "assignee": Ref("BoardUser", False),
        "comments": Ref("Comment", True),
        "creator": Ref("BoardUser", False),
        "labels": Ref("Label", True),
        "reminders": Ref("Reminder", True),
    }
    assert board.refs["Board"]["settings"] == Ref("BoardSettings", False)
    assert board.refs["Label"] == {}


def test_a_list_channel_is_recovered_with_its_list_state(introspection: dict[str, Any]) -> None:
    channels = {c.field: c for c in find_channels(load_schema(introspection))}
    mine = channels["myBoardsChannel"]
    assert (mine.many, mine.root, mine.arguments) == (True, "BoardSummary", ())
    assert mine.state_type == "readonly BoardSummaryState[]"
    assert mine.refs["BoardSummary"] == {"members": Ref("BoardUser", True), "owner": Ref("BoardUser", False)}
    files = generate(introspection)
    assert "  many: true,\n" in files["channels.ts"].split("export const myBoardsChannelModel")[1]
    assert " anchors records " in files["channels.ts"].split("MyBoardsChannelDocument = ")[1].split("\n")[0]
    assert "ChannelHookOptions<readonly BoardSummaryState[]>" in files["hooks.ts"]


def _documents(source: str) -> list[str]:
    return [
        json.loads(match) for match in re.findall(r'export const \w+Document = ("(?:[^"\\]|\\.)*");', source)
    ]


def test_every_generated_document_is_valid_against_the_schema(introspection: dict[str, Any]) -> None:
    files = generate(introspection)
    documents = _documents(files["channels.ts"]) + _documents(files["operations.ts"])
    assert len(documents) >= 8
    for document in documents:
        assert validate(get_schema()._schema, parse(document)) == [], document


def test_types_describe_records_and_nested_state(introspection: dict[str, Any]) -> None:
    types = generate(introspection)["types.ts"]
    assert 'readonly __typename: "Card";' in types
    assert "readonly estimate: string | null;" in types  # a Decimal travels as a string
    assert "export type CardState = Omit<Card, " in types
    assert "readonly comments: ReadonlyArray<CommentState>;" in types
    assert "readonly assignee: BoardUserState | null;" in types


def test_makefrontend_check_fails_on_stale_files_and_passes_on_fresh(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    with pytest.raises(CommandError, match="stale"):
        call_command("makefrontend", "--check", "--out", str(out))
    call_command("makefrontend", "--dry-run", "--out", str(out))
    assert not out.exists()
    call_command("makefrontend", "--out", str(out))
    call_command("makefrontend", "--check", "--out", str(out))
    (out / "channels.ts").write_text((out / "channels.ts").read_text() + "// edited\n")
    with pytest.raises(CommandError, match=r"channels\.ts"):
        call_command("makefrontend", "--check", "--out", str(out))
    assert (out / "runtime" / "store.ts").exists()


def _with_action(introspection: dict[str, Any]) -> dict[str, Any]:
    """The example's schema plus ``boardChannelRename2(boardId, title)``, without chat's actions."""
    schema = json.loads(json.dumps(introspection))["__schema"]
    mutation = next(t for t in schema["types"] if t["name"] == schema["mutationType"]["name"])
    mutation["fields"] = [f for f in mutation["fields"] if not f["name"].startswith("chatRoomChannel")]

    def arg(name: str, type_name: str) -> dict[str, Any]:
        named = {"kind": "SCALAR", "name": type_name, "ofType": None}
        return {
            "name": name,
            "description": None,
            "type": {"kind": "NON_NULL", "name": None, "ofType": named},
            "defaultValue": None,
        }

    mutation["fields"].append(
        {
            "name": "boardChannelRename2",
            "description": "Rename the board.",
            "args": [arg("boardId", "ID"), arg("title", "String")],
            "type": {"kind": "NON_NULL", "name": None, "ofType": {"kind": "SCALAR", "name": "Boolean"}},
            "isDeprecated": False,
            "deprecationReason": None,
        }
    )
    return {"__schema": schema}


def test_channel_mutations_become_typed_actions_with_the_channel_arguments_bound(
    introspection: dict[str, Any],
) -> None:
    files = generate(_with_action(introspection))
    channels = files["channels.ts"]
    assert (
        '  rename2(variables: Omit<BoardChannelRename2MutationVariables, "boardId">, '
        "options?: RequestOptions): Promise<BoardChannelRename2MutationResult>;" in channels
    )
    assert "boardChannelRename2(connection, { ...args, ...variables }, options)" in channels
    assert "export type ChatRoomChannelActions = Readonly<Record<string, never>>;" in channels
    assert "readonly actions: BoardChannelActions | null" in files["hooks.ts"]
    out = NODE_DIR / "generated-actions"
    for path, content in {**files, **runtime_files()}.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(content)
    config = {"extends": "../tsconfig.json", "compilerOptions": {"noEmit": True}, "include": ["**/*.ts"]}
    (out / "tsconfig.json").write_text(json.dumps(config))
    assert_tsc_passes(out)


def test_from_url_generates_the_same_files_as_in_process(tmp_path: Path, rx_server: LiveServer) -> None:
    remote, local = tmp_path / "remote", tmp_path / "local"
    call_command("makefrontend", "--from-url", rx_server.graphql_url, "--out", str(remote))
    call_command("makefrontend", "--out", str(local))
    names = sorted(p.relative_to(local) for p in local.rglob("*.ts"))
    assert names == sorted(p.relative_to(remote) for p in remote.rglob("*.ts"))
    assert all((local / name).read_text() == (remote / name).read_text() for name in names)
    with pytest.raises(CommandError, match="could not introspect"):
        call_command("makefrontend", "--from-url", "http://127.0.0.1:9/graphql", "--out", str(remote))


def test_runserver_makefrontend_writes_the_client_before_serving(tmp_path: Path) -> None:
    out = tmp_path / "frontend"
    example = Path(__file__).resolve().parent.parent.parent / "example"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--makefrontend"],
        cwd=example,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "RXGRAPHQL_FRONTEND_DIR": str(out),
            "PYTHONUNBUFFERED": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        seen = []
        for line in server.stdout:
            seen.append(line)
            if "Starting ASGI/Daphne" in line:
                break
        assert any("makefrontend: wrote channels.ts" in line for line in seen), "".join(seen)
        assert (out / "hooks.ts").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_runtime_state_is_selected_and_typed(introspection: dict[str, Any]) -> None:
    files = generate(introspection)
    assert "deleted { type id } notifications runtime { __typename typing } }" in files["channels.ts"]
    assert "get runtime(): ChatRoomChannelRuntimeState | null {" in files["channels.ts"]
    assert "readonly runtime: ChatRoomChannelRuntimeState | null;" in files["hooks.ts"]
    assert "get runtime(): null {" in files["channels.ts"]  # BoardChannel has no runtime state
