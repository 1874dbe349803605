"""The generator: deterministic TypeScript from an introspection result, with documents the server accepts."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from graphql import parse, validate

from codegen.channels import Ref, find_channels
from codegen.generate import generate
from codegen.introspection import load_schema
from rxgraphql.management.commands.makefrontend import introspect_project
from schema_bridge.schema import get_schema


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
    assert set(channels) == {"boardChannel", "chatRoomChannel"}
    board = channels["boardChannel"]
    assert board.root == "Board"
    assert [a.name for a in board.arguments] == ["boardId"]
    assert board.refs["Card"] == {
        "assignee": Ref("BoardUser", False),
        "comments": Ref("Comment", True),
        "creator": Ref("BoardUser", False),
        "labels": Ref("Label", True),
    }
    assert board.refs["Board"]["settings"] == Ref("BoardSettings", False)
    assert board.refs["Label"] == {}


def _documents(source: str) -> list[str]:
    return [
        json.loads(match)
        for match in re.findall(r'export const \w+Document = ("(?:[^"\\]|\\.)*");', source)
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
