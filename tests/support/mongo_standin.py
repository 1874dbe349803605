"""A MongoDB STAND-IN: an in-memory engine with indexes behind a small server speaking the wire protocol.

No MongoDB server can be installed where this suite runs, so when ``RXGRAPHQL_TEST_MONGO_URL`` is not set
the tests point the real ``pymongo`` clients (``MongoClient`` and ``AsyncMongoClient``) at this stand-in.
The driver code paths are the real ones; documents are matched by mongomock's filter (``filter_applies``)
among those the stand-in's own indexes name, so behaviour the stand-in does not reproduce (transactions,
change streams, server-side limits other than the 16 MiB document size) is not tested by it. Being a
server process, it can be shared by several processes (the multi-process tests).

It understands ``OP_MSG`` and the legacy ``OP_QUERY`` handshake, and the commands pymongo sends for what
rxgraphql does: hello, find, insert, update, delete, aggregate (counts), distinct, createIndexes, drop, ...
Run it alone with ``python -m tests.support.mongo_standin --port 27018``.
"""

from __future__ import annotations

import argparse
import re
import socket
import socketserver
import struct
import threading
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import bson
from bson.codec_options import CodecOptions
from mongomock.filtering import filter_applies as _filter_applies
from pymongo.errors import DuplicateKeyError

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
MAX_BSON = 16 * 1024 * 1024
CODEC = CodecOptions(document_class=dict, tz_aware=True, tzinfo=UTC)


class Engine:
    """An in-memory database engine with real indexes; mongomock's matcher decides which documents match.

    Documents live in dicts per collection. Every index of ``createIndexes`` (and the ``_id`` one) maps the
    values of each prefix of its keys, arrays expanded as MongoDB's multikey indexes do, to document ids: a
    query constraining a prefix with equalities or ``$in`` (also within each branch of a top-level ``$or``)
    only looks at the documents the index names, so an anchor of 10k records among 100 anchors is read,
    written and deleted at the cost of what it touches, not of the whole collection.
    """

    def __init__(self) -> None:
        self.databases: dict[str, dict[str, _Collection]] = {}
        self.lock = threading.Lock()
        self.connections = 0

    def examined(self) -> int:
        """Documents examined by every query so far, all collections together."""
        with self.lock:
            return sum(c.examined for db in self.databases.values() for c in db.values())

    def keys_examined(self) -> int:
        """Ids read out of indexes by every query so far, all collections together."""
        with self.lock:
            return sum(c.read_from_indexes for db in self.databases.values() for c in db.values())

    def _collection(self, db_name: str, name: str, create: bool = True) -> _Collection | None:
        db = self.databases.setdefault(db_name, {})
        found = db.get(name)
        if found is None and create:
            found = db[name] = _Collection(name)
        return found

    def run(self, db_name: str, command: dict[str, Any]) -> dict[str, Any]:
        name = next(iter(command))
        handler = getattr(self, "cmd_" + name.lower(), None)
        if handler is None:
            return {"ok": 0.0, "errmsg": f"no such command: '{name}' (mongo stand-in)", "code": 59}
        with self.lock:
            try:
                result: dict[str, Any] = handler(db_name, command[name], command)
            except Exception as error:
                return {"ok": 0.0, "errmsg": f"{type(error).__name__}: {error}", "code": 8000}
        result.setdefault("ok", 1.0)
        return result

    # ---- handshake and trivia ----------------------------------------------------------------

    def cmd_hello(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {
            "helloOk": True,
            "isWritablePrimary": True,
            "ismaster": True,
            "maxBsonObjectSize": MAX_BSON,
            "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.now(UTC),
            "minWireVersion": 0,
            "maxWireVersion": 17,
            "readOnly": False,
            "connectionId": self.connections,
        }

    cmd_ismaster = cmd_hello

    def cmd_ping(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {}

    def cmd_buildinfo(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {"version": "6.0.0-standin", "versionArray": [6, 0, 0, 0]}

    def cmd_endsessions(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {}

    def cmd_killcursors(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {"cursorsKilled": command.get("cursors", [])}

    def cmd_getmore(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {"cursor": {"id": 0, "ns": f"{db}.{command['collection']}", "nextBatch": []}}

    # ---- reads ---------------------------------------------------------------------------------

    @staticmethod
    def _cursor(db: str, name: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"cursor": {"id": 0, "ns": f"{db}.{name}", "firstBatch": docs}}

    def cmd_find(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name, create=False)
        docs = [] if collection is None else collection.find(command.get("filter") or {})
        if command.get("sort"):
            docs = _sorted(docs, list(command["sort"].items()))
        skip = int(command.get("skip", 0) or 0)
        limit = abs(int(command.get("limit", 0) or 0))
        docs = docs[skip : skip + limit] if limit else docs[skip:]
        projection = command.get("projection")
        return self._cursor(db, name, [_project(doc, projection) for doc in docs])

    def cmd_aggregate(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name, create=False)
        docs: list[dict[str, Any]] | None = None
        for stage in command["pipeline"]:
            (op, spec), *_ = stage.items()
            if op == "$match":
                if docs is None:
                    docs = [] if collection is None else collection.find(spec)
                else:
                    docs = [doc for doc in docs if filter_applies(spec, doc)]
                continue
            docs = (collection.find({}) if collection is not None else []) if docs is None else docs
            if op == "$skip":
                docs = docs[int(spec) :]
            elif op == "$limit":
                docs = docs[: int(spec)]
            elif op == "$group" and all(v == {"$sum": 1} for k, v in spec.items() if k != "_id"):
                counted = {k: len(docs) for k in spec if k != "_id"}
                docs = [{"_id": spec["_id"], **counted}] if docs else []
            else:
                raise ValueError(f"aggregation stage {op} is not supported by the mongo stand-in")
        return self._cursor(db, name, docs or [])

    def cmd_distinct(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name, create=False)
        values: list[Any] = []
        seen: set[Any] = set()
        for doc in [] if collection is None else collection.find(command.get("query") or {}):
            value = doc.get(command["key"])
            for item in value if isinstance(value, list) else [value]:
                if item is not None and _hashable(item) not in seen:
                    seen.add(_hashable(item))
                    values.append(item)
        return {"values": values}

    def cmd_count(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name, create=False)
        return {"n": 0 if collection is None else len(collection.find(command.get("query") or {}))}

    def cmd_listindexes(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name, create=False)
        docs = [{"v": 2, "name": "_id_", "key": {"_id": 1}}]
        for index in [] if collection is None else collection.indexes.values():
            doc: dict[str, Any] = {"v": 2, "name": index.name, "key": dict.fromkeys(index.fields, 1)}
            if index.unique:
                doc["unique"] = True
            docs.append(doc)
        return self._cursor(db, name, docs)

    def cmd_listcollections(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        names = sorted(self.databases.get(db, {}))
        docs = [{"name": n, "type": "collection", "options": {}} for n in names]
        return self._cursor(db, "$cmd.listCollections", docs)

    # ---- writes --------------------------------------------------------------------------------

    def cmd_insert(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name)
        assert collection is not None
        n, errors = 0, []
        for index, doc in enumerate(command.get("documents", [])):
            try:
                collection.insert(dict(doc))
                n += 1
            except DuplicateKeyError as error:
                errors.append({"index": index, "code": 11000, "errmsg": str(error)})
                if command.get("ordered", True):
                    break
        return {"n": n, **({"writeErrors": errors} if errors else {})}

    def cmd_update(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name)
        assert collection is not None
        n = modified = 0
        upserted, errors = [], []
        for index, spec in enumerate(command.get("updates", [])):
            try:
                matched, changed, new_id = collection.update(
                    spec["q"], spec["u"], bool(spec.get("upsert")), bool(spec.get("multi"))
                )
            except DuplicateKeyError as error:
                errors.append({"index": index, "code": 11000, "errmsg": str(error)})
                if command.get("ordered", True):
                    break
                continue
            if new_id is not None:
                upserted.append({"index": index, "_id": new_id})
                n += 1
            else:
                n += matched
                modified += changed
        reply: dict[str, Any] = {"n": n, "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        return reply

    def cmd_delete(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name, create=False)
        n = 0
        for spec in command.get("deletes", []):
            if collection is not None:
                n += collection.delete(spec["q"], only_one=spec.get("limit") == 1)
        return {"n": n}

    def cmd_createindexes(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, name)
        assert collection is not None
        for spec in command.get("indexes", []):
            collection.create_index(spec["name"], list(spec["key"]), bool(spec.get("unique")))
        return {"numIndexesAfter": len(collection.indexes) + 1}

    def cmd_drop(self, db: str, name: str, command: dict[str, Any]) -> dict[str, Any]:
        if self.databases.get(db, {}).pop(name, None) is None:
            return {"ok": 0.0, "errmsg": "ns not found", "code": 26}
        return {}

    def cmd_dropdatabase(self, db: str, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        self.databases.pop(db, None)
        return {}


def filter_applies(filter_: dict[str, Any], doc: dict[str, Any]) -> bool:
    return bool(_filter_applies(filter_, doc))  # type: ignore[no-untyped-call]


def _hashable(value: Any) -> Any:
    """An index key for a value: booleans apart from numbers; documents and arrays by their BSON bytes."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict | list):
        return ("bson", bson.encode({"v": value}))
    if isinstance(value, bytes):
        return ("bytes", value)
    return value


def _index_values(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [_hashable(item) for item in value] or [None]
    return [_hashable(value)]


class _Index:
    """One index: for every prefix of its keys, the ids of the documents holding each combination."""

    def __init__(self, name: str, fields: list[str], unique: bool) -> None:
        self.name = name
        self.fields = fields
        self.unique = unique
        self.prefixes: list[dict[tuple[Any, ...], set[Any]]] = [defaultdict(set) for _ in fields]

    def entries(self, doc: dict[str, Any]) -> list[tuple[Any, ...]]:
        combos: list[tuple[Any, ...]] = [()]
        for field in self.fields:
            combos = [(*combo, value) for combo in combos for value in _index_values(doc.get(field))]
        return combos

    def add(self, key: Any, doc: dict[str, Any]) -> None:
        for combo in self.entries(doc):
            for length in range(1, len(combo) + 1):
                self.prefixes[length - 1][combo[:length]].add(key)

    def remove(self, key: Any, doc: dict[str, Any]) -> None:
        for combo in self.entries(doc):
            for length in range(1, len(combo) + 1):
                holders = self.prefixes[length - 1].get(combo[:length])
                if holders is not None:
                    holders.discard(key)
                    if not holders:
                        del self.prefixes[length - 1][combo[:length]]

    def clash(self, key: Any, doc: dict[str, Any]) -> bool:
        full = self.prefixes[-1]
        return any(full.get(combo, set()) - {key} for combo in self.entries(doc))

    def lookup(self, wanted: dict[str, list[Any]]) -> _Lookup | None:
        """The entries naming the documents that can match equality constraints on a prefix of the keys
        (the longest the constraints cover), not yet merged: a query planner compares their sizes first."""
        combos: list[tuple[Any, ...]] = [()]
        for field in self.fields:
            if field not in wanted:
                break
            combos = [(*combo, _hashable(value)) for combo in combos for value in wanted[field]]
        length = len(combos[0])
        if not length:
            return None
        entries = self.prefixes[length - 1]
        holders = [found for combo in combos if (found := entries.get(combo))]
        return _Lookup(holders, frozenset(self.fields[:length]))


class _Lookup:
    """What one index names for a filter: its entries (sets of ids) and the fields they match already."""

    def __init__(self, holders: list[set[Any]], fields: frozenset[str]) -> None:
        self.holders = holders
        self.fields = fields
        #: At least as many ids as the merged entries hold (their sum): the planner's estimate.
        self.size = sum(len(found) for found in holders)

    def ids(self) -> set[Any]:
        return set().union(*self.holders)


def _equalities(filter_: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields a filter pins to one value or a list of values (``$in``), as an index can serve them."""
    wanted: dict[str, list[Any]] = {}
    for field, value in filter_.items():
        if field.startswith("$"):
            continue
        if isinstance(value, dict):
            if set(value) == {"$in"} and isinstance(value["$in"], list):
                wanted[field] = list(value["$in"])
            elif set(value) == {"$eq"}:
                wanted[field] = [value["$eq"]]
        elif not isinstance(value, list | re.Pattern):
            wanted[field] = [value]
    return wanted


class _Collection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, dict[str, Any]] = {}
        self.order: dict[Any, int] = {}
        self.sequence = 0
        self.indexes: dict[str, _Index] = {}
        #: Documents the matcher looked at (MongoDB's ``docsExamined``): what the indexes spare.
        self.examined = 0
        #: Ids read out of the chosen indexes (MongoDB's ``keysExamined``).
        self.read_from_indexes = 0

    def create_index(self, name: str, fields: list[str], unique: bool) -> None:
        if name in self.indexes:
            return
        index = self.indexes[name] = _Index(name, fields, unique)
        for key, doc in self.docs.items():
            index.add(key, doc)

    def _candidates(self, filter_: dict[str, Any]) -> tuple[set[Any], frozenset[str]] | None:
        """The ids an index names for the filter, and the fields every one of them matches already."""
        if "_id" in filter_ and not isinstance(filter_["_id"], dict):
            return {filter_["_id"]} & self.docs.keys(), frozenset(["_id"])
        if "$or" in filter_:
            branches: set[Any] = set()
            base = {k: v for k, v in filter_.items() if k != "$or"}
            for branch in filter_["$or"]:
                found = self._candidates({**base, **branch})
                if found is None:
                    break
                branches |= found[0]
            else:
                return branches, frozenset()
        wanted = _equalities(filter_)
        # As MongoDB's planner: the index naming the fewest documents wins, and only its entries are read
        # (an index on the anchor alone names every record of it, which a lookup of one key must not copy).
        best: _Lookup | None = None
        for index in self.indexes.values():
            found = index.lookup(wanted)
            if found is not None and (best is None or found.size < best.size):
                best = found
        if best is None:
            return None
        ids = best.ids()
        self.read_from_indexes += len(ids)
        return ids, best.fields

    def find(self, filter_: dict[str, Any]) -> list[dict[str, Any]]:
        candidates = self._candidates(filter_)
        if candidates is None:
            pool, rest = list(self.docs.values()), filter_
        else:
            pool = [self.docs[key] for key in sorted(candidates[0], key=self.order.__getitem__)]
            rest = {field: value for field, value in filter_.items() if field not in candidates[1]}
        self.examined += len(pool)
        if not rest:
            return pool
        return [doc for doc in pool if filter_applies(rest, doc)]

    def insert(self, doc: dict[str, Any]) -> None:
        doc.setdefault("_id", bson.ObjectId())
        key = doc["_id"]
        if key in self.docs:
            raise DuplicateKeyError(f"E11000 duplicate key _id {key} in {self.name} (mongo stand-in)")
        self._check_unique(key, doc)
        self._store(key, doc)

    def _check_unique(self, key: Any, doc: dict[str, Any]) -> None:
        for index in self.indexes.values():
            if index.unique and index.clash(key, doc):
                raise DuplicateKeyError(
                    f"E11000 duplicate key error collection: {self.name} index: {index.name} (mongo stand-in)"
                )

    def _store(self, key: Any, doc: dict[str, Any]) -> None:
        old = self.docs.get(key)
        if old is not None:
            for index in self.indexes.values():
                index.remove(key, old)
        else:
            self.sequence += 1
            self.order[key] = self.sequence
        self.docs[key] = doc
        for index in self.indexes.values():
            index.add(key, doc)

    def update(
        self, filter_: dict[str, Any], update: dict[str, Any], upsert: bool, multi: bool
    ) -> tuple[int, int, Any]:
        matches = self.find(filter_)
        if not multi:
            matches = matches[:1]
        if not matches:
            if not upsert:
                return 0, 0, None
            seed = {k: v for k, v in _equalities(filter_).items() if len(v) == 1}
            doc = _updated({k: v[0] for k, v in seed.items()}, update)
            self.insert(doc)
            return 0, 0, doc["_id"]
        changed = 0
        for old in matches:
            new = _updated(old, update)  # a new dict: replies being encoded keep the old one
            new["_id"] = old["_id"]
            if new != old:
                self._check_unique(old["_id"], new)
                self._store(old["_id"], new)
                changed += 1
        return len(matches), changed, None

    def delete(self, filter_: dict[str, Any], only_one: bool) -> int:
        matches = self.find(filter_)
        if only_one:
            matches = matches[:1]
        for doc in matches:
            key = doc["_id"]
            for index in self.indexes.values():
                index.remove(key, doc)
            del self.docs[key]
            del self.order[key]
        return len(matches)


def _updated(doc: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    if not any(key.startswith("$") for key in update):
        return {"_id": doc.get("_id"), **update} if "_id" in doc else dict(update)
    new = dict(doc)
    for op, fields in update.items():
        if op == "$set":
            new.update(fields)
        elif op == "$unset":
            for field in fields:
                new.pop(field, None)
        elif op == "$inc":
            for field, amount in fields.items():
                new[field] = new.get(field, 0) + amount
        else:
            raise ValueError(f"update operator {op} is not supported by the mongo stand-in")
    return new


def _sorted(docs: list[dict[str, Any]], keys: list[tuple[str, int]]) -> list[dict[str, Any]]:
    for field, direction in reversed(keys):
        present = [doc for doc in docs if doc.get(field) is not None]
        missing = [doc for doc in docs if doc.get(field) is None]
        present.sort(key=lambda doc: doc[field], reverse=direction < 0)
        docs = missing + present if direction > 0 else present + missing
    return docs


def _project(doc: dict[str, Any], projection: dict[str, Any] | None) -> dict[str, Any]:
    if not projection:
        return doc
    included = [field for field, flag in projection.items() if flag and field != "_id"]
    if included:
        shown = {field: doc[field] for field in included if field in doc}
        if projection.get("_id", 1) and "_id" in doc:
            shown = {"_id": doc["_id"], **shown}
        return shown
    hidden = {field for field, flag in projection.items() if not flag}
    return {field: value for field, value in doc.items() if field not in hidden}


class _Handler(socketserver.BaseRequestHandler):
    server: StandinServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        engine = self.server.engine
        engine.connections += 1
        try:
            while True:
                header = _recv(sock, 16)
                if header is None:
                    return
                length, request_id, _, op_code = struct.unpack("<iiii", header)
                body = _recv(sock, length - 16)
                if body is None:
                    return
                if op_code == OP_MSG:
                    self._op_msg(sock, request_id, body)
                elif op_code == OP_QUERY:
                    self._op_query(sock, request_id, body)
                else:
                    return
        except (ConnectionError, OSError):
            return

    def _op_msg(self, sock: socket.socket, request_id: int, body: bytes) -> None:
        (flags,) = struct.unpack_from("<I", body, 0)
        end = len(body) - (4 if flags & 1 else 0)
        position = 4
        command: dict[str, Any] = {}
        while position < end:
            kind = body[position]
            position += 1
            if kind == 0:
                (size,) = struct.unpack_from("<i", body, position)
                command.update(bson.decode(body[position : position + size], CODEC))
                position += size
            else:
                (size,) = struct.unpack_from("<i", body, position)
                section_end = position + size
                name_end = body.index(b"\x00", position + 4)
                identifier = body[position + 4 : name_end].decode()
                command[identifier] = bson.decode_all(body[name_end + 1 : section_end], CODEC)
                position = section_end
        db_name = command.pop("$db", "admin")
        for meta in ("lsid", "$clusterTime", "$readPreference", "txnNumber", "autocommit", "apiVersion"):
            command.pop(meta, None)
        reply = self.server.engine.run(db_name, command)
        if flags & 2:  # moreToCome: the client expects no answer
            return
        payload = struct.pack("<I", 0) + b"\x00" + bson.encode(reply)
        sock.sendall(struct.pack("<iiii", 16 + len(payload), 0, request_id, OP_MSG) + payload)

    def _op_query(self, sock: socket.socket, request_id: int, body: bytes) -> None:
        name_end = body.index(b"\x00", 4)
        collection = body[4:name_end].decode()
        position = name_end + 1 + 8
        (size,) = struct.unpack_from("<i", body, position)
        query = bson.decode(body[position : position + size], CODEC)
        if "$query" in query:
            query = query["$query"]
        reply = self.server.engine.run(collection.split(".")[0], dict(query))
        document = bson.encode(reply)
        payload = struct.pack("<iqii", 0, 0, 0, 1) + document
        sock.sendall(struct.pack("<iiii", 16 + len(payload), 0, request_id, OP_REPLY) + payload)


def _recv(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class StandinServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.engine = Engine()

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.server_address[1]}/?directConnection=true"

    def start(self) -> StandinServer:
        threading.Thread(target=self.serve_forever, name="mongo-standin", daemon=True).start()
        return self


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=27018)
    args = parser.parse_args()
    server = StandinServer(args.port)
    print(f"mongo stand-in listening on {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
