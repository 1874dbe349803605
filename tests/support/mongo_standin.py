"""A MongoDB STAND-IN: mongomock's in-memory engine behind a small server speaking the MongoDB wire protocol.

No MongoDB server can be installed where this suite runs, so when ``RXGRAPHQL_TEST_MONGO_URL`` is not set
the tests point the real ``pymongo`` clients (``MongoClient`` and ``AsyncMongoClient``) at this stand-in.
The driver code paths are the real ones; the query engine is mongomock's, so behaviour the stand-in does
not reproduce (transactions, change streams, server-side limits other than the 16 MiB document size) is
not tested by it. Being a server process, it can be shared by several processes (the multi-process tests).

It understands ``OP_MSG`` and the legacy ``OP_QUERY`` handshake, and the commands pymongo sends for what
rxgraphql does: hello, find, insert, update, delete, aggregate, distinct, createIndexes, drop, ... Run it
alone with ``python -m tests.support.mongo_standin --port 27018``.
"""

from __future__ import annotations

import argparse
import socket
import socketserver
import struct
import threading
from datetime import UTC, datetime
from typing import Any

import bson
import mongomock
from bson.codec_options import CodecOptions
from pymongo.errors import DuplicateKeyError

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013
MAX_BSON = 16 * 1024 * 1024
CODEC = CodecOptions(document_class=dict, tz_aware=True, tzinfo=UTC)


class Engine:
    """mongomock's client, one command at a time."""

    def __init__(self) -> None:
        self.client: Any = mongomock.MongoClient()
        self.lock = threading.Lock()
        self.connections = 0

    def run(self, db_name: str, command: dict[str, Any]) -> dict[str, Any]:
        name = next(iter(command))
        handler = getattr(self, "cmd_" + name.lower(), None)
        if handler is None:
            return {"ok": 0.0, "errmsg": f"no such command: '{name}' (mongo stand-in)", "code": 59}
        with self.lock:
            try:
                result: dict[str, Any] = handler(self.client[db_name], command[name], command)
            except Exception as error:
                return {"ok": 0.0, "errmsg": f"{type(error).__name__}: {error}", "code": 8000}
        result.setdefault("ok", 1.0)
        return result

    # ---- handshake and trivia ----------------------------------------------------------------

    def cmd_hello(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
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

    def cmd_ping(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {}

    def cmd_buildinfo(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {"version": "6.0.0-standin", "versionArray": [6, 0, 0, 0]}

    def cmd_endsessions(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {}

    def cmd_killcursors(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {"cursorsKilled": command.get("cursors", [])}

    def cmd_getmore(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        return {"cursor": {"id": 0, "ns": f"{db.name}.{command['collection']}", "nextBatch": []}}

    # ---- reads ---------------------------------------------------------------------------------

    def _cursor(self, db: Any, name: str, docs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"cursor": {"id": 0, "ns": f"{db.name}.{name}", "firstBatch": docs}}

    def cmd_find(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        cursor = db[name].find(command.get("filter", {}), command.get("projection"))
        if command.get("sort"):
            cursor = cursor.sort(list(command["sort"].items()))
        if command.get("skip"):
            cursor = cursor.skip(command["skip"])
        limit = abs(int(command.get("limit", 0) or 0))
        if limit:
            cursor = cursor.limit(limit)
        return self._cursor(db, name, list(cursor))

    def cmd_aggregate(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        return self._cursor(db, name, list(db[name].aggregate(command["pipeline"])))

    def cmd_distinct(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        return {"values": db[name].distinct(command["key"], command.get("query") or {})}

    def cmd_count(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        return {"n": db[name].count_documents(command.get("query") or {})}

    def cmd_listindexes(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        info = db[name].index_information() if name in db.list_collection_names() else {}
        docs = [
            {
                "v": 2,
                "name": key,
                "key": dict(value["key"]),
                **{k: v for k, v in value.items() if k == "unique"},
            }
            for key, value in info.items()
        ]
        return self._cursor(db, name, docs)

    def cmd_listcollections(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        docs = [{"name": n, "type": "collection", "options": {}} for n in db.list_collection_names()]
        return self._cursor(db, "$cmd.listCollections", docs)

    # ---- writes --------------------------------------------------------------------------------

    def cmd_insert(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        n, errors = 0, []
        for index, doc in enumerate(command.get("documents", [])):
            try:
                db[name].insert_one(doc)
                n += 1
            except DuplicateKeyError as error:
                errors.append({"index": index, "code": 11000, "errmsg": str(error)})
                if command.get("ordered", True):
                    break
        return {"n": n, **({"writeErrors": errors} if errors else {})}

    def cmd_update(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        n = modified = 0
        upserted, errors = [], []
        for index, spec in enumerate(command.get("updates", [])):
            method = db[name].update_many if spec.get("multi") else db[name].update_one
            try:
                result = method(spec["q"], spec["u"], upsert=bool(spec.get("upsert")))
            except DuplicateKeyError as error:
                errors.append({"index": index, "code": 11000, "errmsg": str(error)})
                if command.get("ordered", True):
                    break
                continue
            if result.upserted_id is not None:
                upserted.append({"index": index, "_id": result.upserted_id})
                n += 1
            else:
                n += result.matched_count
                modified += result.modified_count
        reply: dict[str, Any] = {"n": n, "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        return reply

    def cmd_delete(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        n = 0
        for spec in command.get("deletes", []):
            if spec.get("limit") == 1:
                n += db[name].delete_one(spec["q"]).deleted_count
            else:
                n += db[name].delete_many(spec["q"]).deleted_count
        return {"n": n}

    def cmd_createindexes(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        for spec in command.get("indexes", []):
            options = {k: v for k, v in spec.items() if k in ("name", "unique", "sparse")}
            db[name].create_index(list(spec["key"].items()), **options)
        return {"numIndexesAfter": len(command.get("indexes", [])) + 1}

    def cmd_drop(self, db: Any, name: str, command: dict[str, Any]) -> dict[str, Any]:
        if name not in db.list_collection_names():
            return {"ok": 0.0, "errmsg": "ns not found", "code": 26}
        db.drop_collection(name)
        return {}

    def cmd_dropdatabase(self, db: Any, value: Any, command: dict[str, Any]) -> dict[str, Any]:
        self.client.drop_database(db.name)
        return {}


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
