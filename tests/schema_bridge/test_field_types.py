"""The GraphQL type of each DRF field of a flat record (children are IDs; decimals travel as text)."""

from __future__ import annotations

import datetime
import typing
from typing import Any

import pytest
import strawberry
from board.models import Card
from rest_framework import serializers
from strawberry.scalars import JSON

from schema_bridge.field_types import scalar_annotation


class Sample(serializers.ModelSerializer[Card]):
    flag = serializers.BooleanField()
    count = serializers.IntegerField(allow_null=True)
    ratio = serializers.FloatField()
    price = serializers.DecimalField(max_digits=5, decimal_places=2)
    at = serializers.DateTimeField()
    day = serializers.DateField(allow_null=True)
    time = serializers.TimeField()
    took = serializers.DurationField()
    uid = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=["a", "b"])
    name = serializers.CharField()
    upload = serializers.FileField()
    blob = serializers.JSONField()
    owner = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    tags = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    typed = serializers.SerializerMethodField()
    maybe = serializers.SerializerMethodField()
    untyped = serializers.SerializerMethodField()
    listed = serializers.SerializerMethodField()

    class Meta:
        model = Card
        fields = [
            "id",
            "flag",
            "count",
            "ratio",
            "price",
            "at",
            "day",
            "time",
            "took",
            "uid",
            "kind",
            "name",
            "upload",
            "blob",
            "owner",
            "tags",
            "typed",
            "maybe",
            "untyped",
            "listed",
        ]

    def get_typed(self, obj: Card) -> int:
        return 1

    def get_maybe(self, obj: Card) -> str | None:
        return None

    def get_untyped(self, obj: Card):  # type: ignore[no-untyped-def]  # unannotated on purpose
        return None

    def get_listed(self, obj: Card) -> list[int]:
        return []


@pytest.mark.parametrize(
    ("name", "annotation"),
    [
        ("id", strawberry.ID),
        ("flag", bool),
        ("count", typing.Optional[int]),  # noqa: UP045
        ("ratio", float),
        ("price", str),
        ("at", datetime.datetime),
        ("day", typing.Optional[datetime.date]),  # noqa: UP045
        ("time", datetime.time),
        ("took", str),
        ("uid", str),
        ("kind", str),
        ("name", str),
        ("upload", str),
        ("blob", JSON),
        ("owner", typing.Optional[strawberry.ID]),  # noqa: UP045
        ("tags", list[strawberry.ID]),
        ("typed", int),
        ("maybe", typing.Optional[str]),  # noqa: UP045
        ("untyped", JSON),
        ("listed", JSON),
    ],
)
def test_each_field_has_its_annotation(name: str, annotation: Any) -> None:
    fields = Sample().fields
    assert scalar_annotation(name, fields[name], "id") == annotation


def test_the_primary_key_is_an_id_whatever_its_field() -> None:
    fields = Sample().fields
    assert scalar_annotation("count", fields["count"], "count") is strawberry.ID
