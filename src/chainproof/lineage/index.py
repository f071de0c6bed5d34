"""The store's lineage index: artifacts, hops, actors, grants, environments' packages, storage
locations, kept in `lineage.db` beside the log and derived from it.

Like the leaf-hash index it is derived data: it records how far into the log it has read
(`indexed_size`) and which log it belongs to (the genesis leaf's hash), and whatever it lacks is
read from the log on the next `catch_up`: after every append, and before every query (then only
the entries appended since). A side file that is missing, damaged or belongs to another log is
rebuilt from the log. It is written with `synchronous=OFF`: a crash can cost it, never the log.

Each custody entry is kept as its statement's bytes beside the keys that find it; queries parse
only the statements they return.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, suppress
from pathlib import Path

from packaging.utils import canonicalize_name

from chainproof.attest import dsse
from chainproof.attest import statement as statement_mod
from chainproof.custody import predicates
from chainproof.custody.records import (
    ActorRecord,
    Digest,
    GrantRecord,
    GrantRevocation,
    HopRecord,
    Record,
    hex_of,
)
from chainproof.errors import ChainproofError, StoreError
from chainproof.lineage.memory import under
from chainproof.lineage.model import ActorEntry, GrantEntry, HopEntry
from chainproof.log import merkle
from chainproof.log.store import KeyRecord, LogReader

INDEX_FILE = "lineage.db"
_VERSION = "chainproof-lineage/1"
_CHUNK = 4096  # entries per transaction while catching up

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY, kind TEXT NOT NULL, keyids TEXT NOT NULL, statement BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    digest BLOB NOT NULL, output INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (digest, output, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signers (keyid TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (keyid, idx))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packages (name TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (name, idx))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS locations (
    location TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (location, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actors (
    idx INTEGER PRIMARY KEY, name TEXT NOT NULL, keyid TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS actors_keyid ON actors (keyid, idx);
CREATE INDEX IF NOT EXISTS actors_name ON actors (name, idx);
CREATE TABLE IF NOT EXISTS grants (
    grant_id BLOB PRIMARY KEY, idx INTEGER NOT NULL, grantee TEXT NOT NULL, artifact BLOB NOT NULL,
    revoked_at INTEGER
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS grants_grantee ON grants (grantee, idx);
CREATE INDEX IF NOT EXISTS grants_artifact ON grants (artifact, idx);
"""

_HOP, _ACTOR, _GRANT, _REVOCATION = "hop", "actor", "grant", "grant-revocation"

Progress = Callable[[int, int], None]
"""(entries read so far, entries to read) while catching up."""


def _raw(d: Digest) -> bytes:
    return bytes.fromhex(hex_of(d))


def _digest(raw: bytes) -> Digest:
    return Digest("sha256:" + raw.hex())


def read_entry(leaf: bytes) -> tuple[Record, tuple[str, ...], bytes] | None:
    """The custody record a log entry states, its signers' key ids and its statement bytes; None
    for an entry of another kind (the log's own, or a foreign predicate type)."""
    env = dsse.parse(leaf)
    if env.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
        return None
    record = predicates.from_statement(statement_mod.parse(env.payload))
    if record is None:
        return None
    return record, tuple(s.keyid for s in env.signatures), env.payload


def statement_digest(payload: bytes) -> Digest:
    """A statement's id (a grant's id): the SHA-256 of its bytes as signed."""
    return Digest("sha256:" + hashlib.sha256(payload).hexdigest())


class LineageIndex:
    """The index of one store; `open` it beside the store's log, `catch_up`, then query it."""

    def __init__(self, db: sqlite3.Connection, reader: LogReader | None = None) -> None:
        self.db = db
        self.reader = reader

    @classmethod
    def open(cls, directory: Path, *, writable: bool = True) -> LineageIndex:
        """The store's index file, or an index in memory when the store cannot be written (an
        auditor's read-only copy): it is then built from the log for this process only."""
        path = directory / INDEX_FILE
        if writable:
            try:
                return cls(_connect(str(path)))
            except sqlite3.Error:
                with suppress(OSError):  # damaged beyond opening: it is derived, so start afresh
                    path.unlink()
                try:
                    return cls(_connect(str(path)))
                except sqlite3.Error:
                    pass
        return cls(_connect(":memory:"))

    def close(self) -> None:
        self.db.close()

    # -- keeping up with the log ----------------------------------------------------------------

    def catch_up(self, reader: LogReader, on_progress: Progress | None = None) -> int:
        """Index the log's entries past `indexed_size`; return how many were read."""
        self.reader = reader
        size = reader.size()
        try:
            start = self._start(reader, size)
            done = start
            while done < size:
                end = min(size, done + _CHUNK)
                with self.db:
                    for offset, leaf in enumerate(reader.entries(done, end)):
                        self._add(done + offset, leaf)
                    self._set("indexed_size", end)
                done = end
                if on_progress is not None:
                    on_progress(done - start, size - start)
        except sqlite3.Error as e:
            raise StoreError(f"the lineage index could not be updated: {e}") from None
        return size - start

    def _start(self, reader: LogReader, size: int) -> int:
        """Where to resume: 0 (after clearing) unless the index is this log's and not ahead of it."""
        genesis = merkle.leaf_hash(reader.entry(0)).hex() if size else ""
        ok = self._get("version") == _VERSION and self._get("log") == genesis
        indexed = self._get("indexed_size")
        if ok and isinstance(indexed, int) and 0 <= indexed <= size:
            return indexed
        with self.db:
            for table in (
                "records",
                "artifacts",
                "signers",
                "packages",
                "locations",
                "actors",
                "grants",
                "state",
            ):
                self.db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            self._set("version", _VERSION)
            self._set("log", genesis)
            self._set("indexed_size", 0)
        return 0

    def _add(self, index: int, leaf: bytes) -> None:
        try:
            found = read_entry(leaf)
        except ChainproofError:
            return  # admitted before its type had a schema, or foreign: evidence, not lineage
        if found is None:
            return
        record, keyids, payload = found
        db = self.db
        kind = _kind(record)
        db.execute("INSERT INTO records VALUES (?, ?, ?, ?)", (index, kind, " ".join(keyids), payload))
        db.executemany("INSERT OR IGNORE INTO signers VALUES (?, ?)", [(k, index) for k in keyids])
        if isinstance(record, HopRecord):
            rows = [(_raw(d), 0, index) for d in record.inputs] + [
                (_raw(d), 1, index) for d in record.outputs
            ]
            db.executemany("INSERT OR IGNORE INTO artifacts VALUES (?, ?, ?)", rows)
            if record.environment is not None:
                names = {canonicalize_name(p.name) for p in record.environment.packages}
                db.executemany("INSERT OR IGNORE INTO packages VALUES (?, ?)", [(n, index) for n in names])
            location = record.details.get("location")
            if isinstance(location, str):
                db.execute("INSERT OR IGNORE INTO locations VALUES (?, ?)", (location, index))
        elif isinstance(record, ActorRecord):
            db.execute("INSERT INTO actors VALUES (?, ?, ?)", (index, record.name, record.keyid))
        elif isinstance(record, GrantRecord):
            db.execute(
                "INSERT OR IGNORE INTO grants VALUES (?, ?, ?, ?, NULL)",
                (_raw(statement_digest(payload)), index, record.grantee, _raw(record.artifact)),
            )
        else:
            db.execute(
                "UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
                (index, _raw(record.grant_id)),
            )

    def _get(self, key: str) -> object:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set(self, key: str, value: object) -> None:
        self.db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)", (key, value))

    # -- LineageSource --------------------------------------------------------------------------

    def _hops(self, sql: str, params: Sequence[object]) -> list[HopEntry]:
        rows = self.db.execute(
            f"SELECT idx, keyids, statement FROM records WHERE kind = 'hop' AND idx IN ({sql}) ORDER BY idx",  # noqa: S608
            params,
        )
        return [_hop_entry(idx, keyids, payload) for idx, keyids, payload in rows]

    def hop(self, index: int) -> HopEntry | None:
        found = self._hops("?", (index,))
        return found[0] if found else None

    def producers(self, artifact: Digest) -> Sequence[HopEntry]:
        return self._hops("SELECT idx FROM artifacts WHERE digest = ? AND output = 1", (_raw(artifact),))

    def consumers(self, artifact: Digest) -> Sequence[HopEntry]:
        return self._hops("SELECT idx FROM artifacts WHERE digest = ? AND output = 0", (_raw(artifact),))

    def hops_signed_by(self, keyids: Sequence[str]) -> Sequence[HopEntry]:
        marks = ", ".join("?" * len(keyids))
        return self._hops(f"SELECT idx FROM signers WHERE keyid IN ({marks})", tuple(keyids))  # noqa: S608

    def environments_with(self, package: str) -> Sequence[HopEntry]:
        return self._hops("SELECT idx FROM packages WHERE name = ?", (canonicalize_name(package),))

    def hops_at_location(self, location: str) -> Sequence[HopEntry]:
        below = location if location.endswith("/") else location + "/"
        # Every string that starts with `below` sorts between it and `below` with its last
        # character raised by one.
        end = below[:-1] + chr(ord(below[-1]) + 1)
        found = self._hops(
            "SELECT idx FROM locations WHERE location = ? OR (location >= ? AND location < ?)",
            (location, below, end),
        )
        return [h for h in found if under(str(h.record.details.get("location", "")), location)]

    def actor_of(self, keyid: str, before: int) -> ActorEntry | None:
        row = self.db.execute(
            "SELECT idx FROM actors WHERE keyid = ? AND idx < ? ORDER BY idx DESC LIMIT 1", (keyid, before)
        ).fetchone()
        return None if row is None else self._actor(row[0])

    def actors_named(self, name: str) -> Sequence[ActorEntry]:
        rows = self.db.execute("SELECT idx FROM actors WHERE name = ? ORDER BY idx", (name,)).fetchall()
        return [self._actor(idx) for (idx,) in rows]

    def actors(self) -> list[ActorEntry]:
        return [
            self._actor(idx) for (idx,) in self.db.execute("SELECT idx FROM actors ORDER BY idx").fetchall()
        ]

    def _actor(self, index: int) -> ActorEntry:
        record = self._record(index)
        assert isinstance(record, ActorRecord)
        return ActorEntry(index=index, record=record)

    def _record(self, index: int) -> Record:
        (payload,) = self.db.execute("SELECT statement FROM records WHERE idx = ?", (index,)).fetchone()
        record = predicates.from_statement(statement_mod.parse(payload))
        assert record is not None  # it was indexed because it parsed
        return record

    def grants(self, *, grantee: str | None = None, artifact: Digest | None = None) -> Sequence[GrantEntry]:
        where: list[str] = ["1"]
        params: list[object] = []
        if grantee is not None:
            where.append("grantee = ?")
            params.append(grantee)
        if artifact is not None:
            where.append("artifact = ?")
            params.append(_raw(artifact))
        sql = f"SELECT grant_id, idx, revoked_at FROM grants WHERE {' AND '.join(where)} ORDER BY idx"  # noqa: S608
        return [self._grant(*row) for row in self.db.execute(sql, params).fetchall()]

    def grant(self, grant_id: Digest) -> GrantEntry | None:
        row = self.db.execute(
            "SELECT grant_id, idx, revoked_at FROM grants WHERE grant_id = ?", (_raw(grant_id),)
        ).fetchone()
        return None if row is None else self._grant(*row)

    def _grant(self, grant_id: bytes, index: int, revoked_at: int | None) -> GrantEntry:
        record = self._record(index)
        assert isinstance(record, GrantRecord)
        (keyids,) = self.db.execute("SELECT keyids FROM records WHERE idx = ?", (index,)).fetchone()
        return GrantEntry(
            index=index,
            grant_id=_digest(grant_id),
            record=record,
            keyids=tuple(keyids.split()),
            revoked_at=revoked_at,
        )

    def key(self, keyid: str) -> KeyRecord | None:
        if self.reader is None:
            raise RuntimeError("catch_up(reader) first: keys are read from the log")
        return self.reader.key(keyid)

    def records(self) -> Iterator[tuple[int, str]]:
        """(index, kind) of every custody entry indexed, in log order."""
        yield from self.db.execute("SELECT idx, kind FROM records ORDER BY idx")


def _kind(record: Record) -> str:
    if isinstance(record, HopRecord):
        return _HOP
    if isinstance(record, ActorRecord):
        return _ACTOR
    if isinstance(record, GrantRecord):
        return _GRANT
    assert isinstance(record, GrantRevocation)
    return _REVOCATION


def _hop_entry(index: int, keyids: str, payload: bytes) -> HopEntry:
    record = predicates.from_statement(statement_mod.parse(payload))
    assert isinstance(record, HopRecord)
    return HopEntry(index=index, record=record, keyids=tuple(keyids.split()))


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None if path == ":memory:" else "DEFERRED")
    try:
        db.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        db.execute("PRAGMA synchronous=OFF")
        db.executescript(_SCHEMA)
        db.execute("SELECT count(*) FROM records").fetchone()
    except sqlite3.Error:
        db.close()
        raise
    db.isolation_level = "DEFERRED"
    return db


def rebuild(directory: Path, reader: LogReader) -> int:
    """Drop the index file and build it again from the log; return the entries read."""
    with suppress(FileNotFoundError):
        (directory / INDEX_FILE).unlink()
    with closing(LineageIndex.open(directory)) as index:
        return index.catch_up(reader)
