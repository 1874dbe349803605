"""MongoDB: the shared store of flat records, one collection per channel.

The collection is named by the channel's module-qualified name, so two apps with channels of the same
class name never collide.

A document per record and anchor, keyed ``(a: anchor, t: type, i: id)``, with ``e`` (the anchor's epoch),
``v`` (the version that last wrote it), ``d`` (a tombstone), ``refs`` (the keys it refers to, indexed:
the referrer index of the write path) and ``r`` (the record, orjson-encoded). A record whose encoding does
not fit in one document goes to ``<collection>.chunks`` in pieces, written before the document that points
at them, and reassembled on read: it is never lost nor truncated.

Every write is an upsert guarded by ``v < new version``: an older writer (a heater or a writer whose lock
expired) can never overwrite a newer record. The guard makes the upsert collide with the unique key when
the stored version is newer; those duplicate-key errors are the refusals and are ignored.

The write path (the flusher thread) uses a synchronous ``MongoClient``; the subscription side uses
``pymongo.AsyncMongoClient``, one per event loop. Clients are created lazily in the process using them.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, MongoClient, UpdateOne
from pymongo.errors import AutoReconnect, BulkWriteError, ConnectionFailure, ServerSelectionTimeoutError

from ..records import Record, RecordKey
from .loops import PerLoop

#: Above this size an encoded record is split into chunks (a document is limited to 16 MiB).
MAX_INLINE = 15 * 1024 * 1024
CHUNK_SIZE = 8 * 1024 * 1024
DUPLICATE_KEY = 11000
REF_SEP = "\x1f"


class TornReadError(Exception):
    """A chunked record was replaced while being read: read again."""


def unavailable(error: BaseException) -> bool:
    return isinstance(error, AutoReconnect | ConnectionFailure | ServerSelectionTimeoutError)


def encode_ref(key: RecordKey) -> str:
    return f"{key[0]}{REF_SEP}{key[1]}"


def decode_ref(ref: str) -> RecordKey:
    type_name, _, pk = ref.partition(REF_SEP)
    return (type_name, pk)


def _check_bulk(error: BulkWriteError) -> list[int]:
    """The indexes of refused (older) writes; anything but a duplicate key is a real failure."""
    refused = []
    for item in error.details.get("writeErrors", []):
        if item.get("code") != DUPLICATE_KEY:
            raise error
        refused.append(int(item["index"]))
    if error.details.get("writeConcernErrors"):
        raise error
    return refused


class _Write:
    """The documents of one guarded write: main upserts and the chunks they point at."""

    def __init__(self, store: MongoStore, anchor: str, epoch: str, version: int) -> None:
        self.store = store
        self.anchor = anchor
        self.epoch = epoch
        self.version = version
        self.ops: list[UpdateOne] = []
        self.keys: list[RecordKey] = []
        self.chunks: list[dict[str, Any]] = []
        self.chunked: set[RecordKey] = set()

    def put(self, key: RecordKey, record: Record, refs: Iterable[RecordKey]) -> None:
        data = orjson.dumps(record)
        fields: dict[str, Any] = {
            "e": self.epoch,
            "v": self.version,
            "d": False,
            "refs": [encode_ref(r) for r in dict.fromkeys(refs)],
        }
        if len(data) > self.store.max_inline:
            pieces = [data[i : i + self.store.chunk_size] for i in range(0, len(data), self.store.chunk_size)]
            for number, piece in enumerate(pieces):
                self.chunks.append(
                    {"a": self.anchor, "t": key[0], "i": key[1], "v": self.version, "k": number, "b": piece}
                )
            fields.update(r=None, n=len(pieces))
            self.chunked.add(key)
        else:
            fields.update(r=data, n=0)
        self._upsert(key, fields)

    def remove(self, key: RecordKey) -> None:
        self._upsert(key, {"e": self.epoch, "v": self.version, "d": True, "refs": [], "r": None, "n": 0})

    def _upsert(self, key: RecordKey, fields: dict[str, Any]) -> None:
        self.keys.append(key)
        self.ops.append(
            UpdateOne(
                {"a": self.anchor, "t": key[0], "i": key[1], "v": {"$lt": self.version}},
                {"$set": fields},
                upsert=True,
            )
        )

    def stale_chunks(self, refused: list[int], had_chunks: Collection[RecordKey]) -> list[dict[str, Any]]:
        """Filters of chunk documents no longer pointed at after this write."""
        refused_keys = {self.keys[i] for i in refused}
        filters: list[dict[str, Any]] = []
        for key in refused_keys & self.chunked:
            filters.append({"a": self.anchor, "t": key[0], "i": key[1], "v": self.version})
        for key in (set(had_chunks) | self.chunked) - refused_keys:
            filters.append({"a": self.anchor, "t": key[0], "i": key[1], "v": {"$lt": self.version}})
        return filters


class MongoStore:
    """The records of every channel's anchors in one MongoDB database."""

    def __init__(
        self,
        url: str,
        database: str,
        max_inline: int = MAX_INLINE,
        chunk_size: int = CHUNK_SIZE,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.database = database
        self.max_inline = max_inline
        self.chunk_size = min(chunk_size, max_inline) if max_inline > 0 else chunk_size
        self.options = {"serverSelectionTimeoutMS": 5000, **(client_options or {})}
        self._lock = threading.Lock()
        self._sync: tuple[int, MongoClient[dict[str, Any]]] | None = None
        self._async: PerLoop[AsyncMongoClient[dict[str, Any]]] = PerLoop(
            lambda _: AsyncMongoClient(self.url, **self.options)
        )
        self._indexed: set[tuple[int, str]] = set()

    # ---- clients -------------------------------------------------------------------------------

    def sync_db(self) -> Any:
        with self._lock:
            if self._sync is None or self._sync[0] != os.getpid():
                self._sync = (os.getpid(), MongoClient(self.url, **self.options))
            return self._sync[1][self.database]

    def async_db(self) -> Any:
        return self._async.get()[self.database]

    def records(self, channel: str) -> Any:
        db = self.sync_db()
        self._ensure_indexes(db, channel)
        return db[channel]

    def chunks(self, channel: str) -> Any:
        db = self.sync_db()
        self._ensure_indexes(db, channel)
        return db[channel + ".chunks"]

    def _ensure_indexes(self, db: Any, channel: str) -> None:
        marker = (os.getpid(), channel)
        if marker in self._indexed:
            return
        name = channel
        records = db[name]
        records.create_index(
            [("a", ASCENDING), ("t", ASCENDING), ("i", ASCENDING)], unique=True, name="anchor_key"
        )
        records.create_index([("a", ASCENDING), ("v", ASCENDING)], name="anchor_version")
        records.create_index([("a", ASCENDING), ("refs", ASCENDING)], name="anchor_refs")
        records.create_index([("t", ASCENDING), ("i", ASCENDING)], name="key")
        records.create_index([("refs", ASCENDING)], name="refs")
        db[name + ".chunks"].create_index(
            [("a", ASCENDING), ("t", ASCENDING), ("i", ASCENDING), ("v", ASCENDING), ("k", ASCENDING)],
            name="chunk_key",
        )
        self._indexed.add(marker)

    async def arecords(self, channel: str) -> Any:
        db = self.async_db()
        if (os.getpid(), channel) not in self._indexed:
            await asyncio.to_thread(self.records, channel)
        return db[channel]

    async def achunks(self, channel: str) -> Any:
        await self.arecords(channel)
        return self.async_db()[channel + ".chunks"]

    # ---- the write path (synchronous) ----------------------------------------------------------

    def anchors_containing(self, channel: str, keys: Iterable[RecordKey]) -> dict[RecordKey, set[str]]:
        branches = _key_branches(keys)
        if not branches:
            return {}
        query = {"$or": branches, "d": False}
        found: dict[RecordKey, set[str]] = defaultdict(set)
        for doc in self.records(channel).find(query, {"a": 1, "t": 1, "i": 1, "_id": 0}):
            found[(doc["t"], doc["i"])].add(doc["a"])
        return found

    def gather(self, channel: str, keys: Iterable[RecordKey]) -> list[dict[str, Any]]:
        """In one query, the live documents of these keys and of the records referring to them, in every
        anchor (what the write path's edits of a batch read)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        query = {
            "$or": [*_key_branches(wanted), {"refs": {"$in": [encode_ref(k) for k in wanted]}}],
            "d": False,
        }
        return list(self.records(channel).find(query))

    def decode(self, channel: str, doc: Mapping[str, Any]) -> tuple[Record, list[RecordKey], bool]:
        """A live document as (record, refs, chunked)."""
        data = doc["r"] if not doc.get("n") else self._join_sync(channel, doc)
        return orjson.loads(data), [decode_ref(r) for r in doc.get("refs", ())], bool(doc.get("n"))

    def load(
        self, channel: str, anchor: str, epoch: str, key: RecordKey
    ) -> tuple[Record, list[RecordKey], bool] | None:
        """A live record of the anchor: (record, refs, chunked), None when absent."""
        return self.load_many(channel, anchor, epoch, [key])[key]

    def load_many(
        self, channel: str, anchor: str, epoch: str, keys: Iterable[RecordKey]
    ) -> dict[RecordKey, tuple[Record, list[RecordKey], bool] | None]:
        """Live records of the anchor in one query (``$in`` per type); None for those absent."""
        wanted = list(dict.fromkeys(keys))
        found: dict[RecordKey, tuple[Record, list[RecordKey], bool] | None] = dict.fromkeys(wanted)
        if not wanted:
            return found
        branches = _key_branches(wanted)
        query = {"a": anchor, **(branches[0] if len(branches) == 1 else {"$or": branches})}
        for doc in self.records(channel).find(query):
            if not doc.get("d") and doc.get("e") == epoch:
                found[(doc["t"], doc["i"])] = self.decode(channel, doc)
        return found

    def present(self, channel: str, anchor: str, epoch: str, keys: Iterable[RecordKey]) -> set[RecordKey]:
        """Which of these keys the anchor holds, in one query reading the keys only."""
        branches = _key_branches(keys)
        if not branches:
            return set()
        query = {
            "a": anchor,
            "d": False,
            "e": epoch,
            **(branches[0] if len(branches) == 1 else {"$or": branches}),
        }
        return {(doc["t"], doc["i"]) for doc in self.records(channel).find(query, {"t": 1, "i": 1, "_id": 0})}

    def referrers(self, channel: str, anchor: str, epoch: str, key: RecordKey) -> set[RecordKey]:
        return self.referrers_many(channel, anchor, epoch, [key])[key]

    def referrers_many(
        self, channel: str, anchor: str, epoch: str, keys: Iterable[RecordKey]
    ) -> dict[RecordKey, set[RecordKey]]:
        """The records of the anchor referring to each of these keys, in one query."""
        wanted = {encode_ref(key): key for key in keys}
        found: dict[RecordKey, set[RecordKey]] = {key: set() for key in wanted.values()}
        if not wanted:
            return found
        cursor = self.records(channel).find(
            {"a": anchor, "refs": {"$in": list(wanted)}, "d": False, "e": epoch},
            {"t": 1, "i": 1, "refs": 1, "_id": 0},
        )
        for doc in cursor:
            for ref in doc.get("refs", ()):
                if ref in wanted:
                    found[wanted[ref]].add((doc["t"], doc["i"]))
        return found

    def write(
        self,
        channel: str,
        anchor: str,
        epoch: str,
        version: int,
        puts: Mapping[RecordKey, tuple[Record, list[RecordKey]]],
        removes: Iterable[RecordKey],
        had_chunks: Collection[RecordKey] = (),
    ) -> None:
        write = _Write(self, anchor, epoch, version)
        for key, (record, refs) in puts.items():
            write.put(key, record, refs)
        for key in removes:
            write.remove(key)
        if not write.ops:
            return
        if write.chunks:
            self.chunks(channel).insert_many(write.chunks, ordered=False)
        refused: list[int] = []
        try:
            self.records(channel).bulk_write(write.ops, ordered=False)
        except BulkWriteError as error:
            refused = _check_bulk(error)
        stale = write.stale_chunks(refused, had_chunks)
        if stale:
            self.chunks(channel).delete_many({"$or": stale})

    def _join_sync(self, channel: str, doc: Mapping[str, Any]) -> bytes:
        parts = list(
            self.chunks(channel)
            .find({"a": doc["a"], "t": doc["t"], "i": doc["i"], "v": doc["v"]}, {"b": 1, "k": 1})
            .sort("k", ASCENDING)
        )
        return _joined(parts, doc)

    def count(self, channel: str, anchor: str) -> int:
        return int(self.records(channel).count_documents({"a": anchor, "d": False}))

    def stored_anchors(self, channel: str) -> list[str]:
        return [str(a) for a in self.records(channel).distinct("a")]

    def delete_anchor(self, channel: str, anchor: str) -> None:
        self.records(channel).delete_many({"a": anchor})
        self.chunks(channel).delete_many({"a": anchor})

    def drop(self, channels: Iterable[str]) -> None:
        db = self.sync_db()
        for channel in channels:
            db.drop_collection(channel)
            db.drop_collection(channel + ".chunks")
            self._indexed.discard((os.getpid(), channel))

    # ---- the subscription side (asynchronous) --------------------------------------------------

    async def max_version(self, channel: str, anchor: str) -> int:
        records = await self.arecords(channel)
        doc = await records.find_one({"a": anchor}, {"v": 1}, sort=[("v", DESCENDING)])
        return int(doc["v"]) if doc else 0

    async def write_heat(
        self,
        channel: str,
        anchor: str,
        epoch: str,
        version: int,
        records: Iterable[tuple[RecordKey, Record, list[RecordKey]]],
    ) -> None:
        """Store a heated anchor at one version, then drop what former epochs left behind."""

        def encoded() -> _Write:
            write = _Write(self, anchor, epoch, version)
            for key, record, refs in records:
                write.put(key, record, refs)
            return write

        write = await asyncio.to_thread(encoded)  # encoding a large anchor is not for the event loop
        chunks = await self.achunks(channel)
        main = await self.arecords(channel)
        if write.chunks:
            await chunks.insert_many(write.chunks, ordered=False)
        for start in range(0, len(write.ops), 1000):
            try:
                await main.bulk_write(write.ops[start : start + 1000], ordered=False)
            except BulkWriteError as error:
                _check_bulk(error)
        await main.delete_many({"a": anchor, "v": {"$lt": version}})
        await chunks.delete_many({"a": anchor, "v": {"$lt": version}})

    async def read(
        self, channel: str, anchor: str, epoch: str, after: int | None
    ) -> tuple[list[Record], list[RecordKey]]:
        """The live records of an epoch (all, or those written after a version, with tombstones)."""
        main = await self.arecords(channel)
        query: dict[str, Any] = {"a": anchor, "e": epoch}
        if after is None:
            query["d"] = False
        else:
            query["v"] = {"$gt": after}
        records: list[Record] = []
        deleted: list[RecordKey] = []
        chunked: list[dict[str, Any]] = []
        async for doc in main.find(query, {"refs": 0}):
            if doc.get("d"):
                deleted.append((doc["t"], doc["i"]))
            elif doc.get("n"):
                chunked.append(doc)
                records.append({})
            else:
                records.append(orjson.loads(doc["r"]))
        if chunked:
            chunks = await self.achunks(channel)
            holes = [i for i, r in enumerate(records) if not r]
            for index, doc in zip(holes, chunked, strict=True):
                parts = (
                    await chunks.find(
                        {"a": anchor, "t": doc["t"], "i": doc["i"], "v": doc["v"]}, {"b": 1, "k": 1}
                    )
                    .sort("k", ASCENDING)
                    .to_list()
                )
                records[index] = orjson.loads(_joined(parts, doc))
        return records, deleted

    def close(self) -> None:
        """Close the write path's client and each event loop's."""
        self._async.close(AsyncMongoClient.close)
        with self._lock:
            if self._sync is not None and self._sync[0] == os.getpid():
                self._sync[1].close()
            self._sync = None


def _key_branches(keys: Iterable[RecordKey]) -> list[dict[str, Any]]:
    """One ``{t: type, i: {$in: ids}}`` filter per type."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for type_name, pk in dict.fromkeys(keys):
        by_type[type_name].append(pk)
    return [{"t": t, "i": {"$in": pks}} for t, pks in by_type.items()]


def _joined(parts: list[dict[str, Any]], doc: Mapping[str, Any]) -> bytes:
    if len(parts) != doc["n"] or [p["k"] for p in parts] != list(range(doc["n"])):
        raise TornReadError(f"record {doc['t']}:{doc['i']} was replaced while read")
    return b"".join(bytes(p["b"]) for p in parts)
