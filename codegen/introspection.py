"""A typed view of a GraphQL introspection result (the JSON of the standard introspection query)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TypeRef:
    kind: str
    name: str | None
    of_type: TypeRef | None

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> TypeRef:
        inner = data.get("ofType")
        return cls(data["kind"], data.get("name"), cls.load(inner) if inner else None)

    @property
    def named(self) -> str:
        ref: TypeRef = self
        while ref.of_type is not None:
            ref = ref.of_type
        assert ref.name is not None
        return ref.name

    @property
    def non_null(self) -> bool:
        return self.kind == "NON_NULL"

    @property
    def nullable(self) -> TypeRef:
        """The type without its outer NON_NULL."""
        return self.of_type if self.non_null and self.of_type is not None else self

    @property
    def is_list(self) -> bool:
        return self.nullable.kind == "LIST"

    def graphql(self) -> str:
        """The type as written in a GraphQL document (``[ID!]!``)."""
        if self.kind == "NON_NULL":
            assert self.of_type is not None
            return f"{self.of_type.graphql()}!"
        if self.kind == "LIST":
            assert self.of_type is not None
            return f"[{self.of_type.graphql()}]"
        assert self.name is not None
        return self.name


@dataclass(frozen=True)
class InputValue:
    name: str
    description: str | None
    type: TypeRef
    default_value: str | None

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> InputValue:
        return cls(
            data["name"], data.get("description"), TypeRef.load(data["type"]), data.get("defaultValue")
        )

    @property
    def required(self) -> bool:
        return self.type.non_null and self.default_value is None


@dataclass(frozen=True)
class Field:
    name: str
    description: str | None
    args: tuple[InputValue, ...]
    type: TypeRef

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Field:
        return cls(
            data["name"],
            data.get("description"),
            tuple(InputValue.load(a) for a in data.get("args") or ()),
            TypeRef.load(data["type"]),
        )


@dataclass(frozen=True)
class NamedType:
    kind: str
    name: str
    description: str | None
    fields: tuple[Field, ...]
    input_fields: tuple[InputValue, ...]
    possible_types: tuple[str, ...]
    enum_values: tuple[str, ...]

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> NamedType:
        return cls(
            data["kind"],
            data["name"],
            data.get("description"),
            tuple(Field.load(f) for f in data.get("fields") or ()),
            tuple(InputValue.load(f) for f in data.get("inputFields") or ()),
            tuple(sorted(p["name"] for p in data.get("possibleTypes") or ())),
            tuple(v["name"] for v in data.get("enumValues") or ()),
        )

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Schema:
    types: dict[str, NamedType]
    query: str | None
    mutation: str | None
    subscription: str | None

    def root_fields(self, root: str | None) -> tuple[Field, ...]:
        if root is None or root not in self.types:
            return ()
        return tuple(sorted(self.types[root].fields, key=lambda f: f.name))


def load_schema(data: Mapping[str, Any]) -> Schema:
    """Accepts ``{"__schema": ...}`` or a whole response ``{"data": {"__schema": ...}}``."""
    if "data" in data and isinstance(data["data"], Mapping):
        data = data["data"]
    raw = data["__schema"]

    def root(key: str) -> str | None:
        value = raw.get(key)
        return value["name"] if value else None

    types = {t["name"]: NamedType.load(t) for t in raw["types"] if not t["name"].startswith("__")}
    return Schema(types, root("queryType"), root("mutationType"), root("subscriptionType"))
