"""The store's lineage index: artifacts, hops, actors, grants, environments' packages, storage
locations, kept in `lineage.db` beside the log and derived from it.

Like the leaf-hash index it is derived data: it records how far into the log it has read
(`indexed_size`) and which log it belongs to (the genesis leaf's hash), and whatever it lacks is
read from the log on the next `catch_up`: after every append, and before every query (then only
the entries appended since). A side file that is missing, damaged or belongs to another log is
rebuilt from the log. It is written with `synchronous=OFF`: a crash can cost it, never the log.

Each custody entry is a row of the keys that find it (its kind, signers, artifacts), and of its
statement's bytes once something has read them: the recorder that appended it, the catch-up that
parsed it in this process, or the first query that needed it (which reads it from the log, about
0.1 ms an entry, and keeps it). A long backlog parsed by worker processes (a rebuild) leaves them
to the queries: copying every statement costs a third of a rebuild, and doubles the index.
Queries parse only the statements they return.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from functools import partial
from pathlib import Path

from packaging.utils import canonicalize_name

from chainproof._internal import gcpause
from chainproof._internal.config import jobs
from chainproof.attest import statement as statement_mod
from chainproof.custody import predicates
from chainproof.custody.records import ActorRecord, Digest, GrantRecord, HopRecord, Record
from chainproof.custody.views import View
from chainproof.errors import StoreError
from chainproof.lineage import filing, parsing
from chainproof.lineage.filing import raw_digest
from chainproof.lineage.memory import under
from chainproof.lineage.model import ActorEntry, GrantEntry, HopEntry
from chainproof.log import merkle
from chainproof.log.rehash_workers import Opener
from chainproof.log.store import KeyRecord, LogReader

INDEX_FILE = "lineage.db"
_VERSION = "chainproof-lineage/4"
_CHUNK = 8192  # entries per transaction while catching up
_CACHE_KIB = 32 * 1024
_SORT_CACHE_KIB = 2 * 1024
_QUERY_VALUES = 500  # values bound in one query, well below SQLite's limit
_NAMING = "SELECT idx FROM artifacts WHERE digest = ? AND output = {output}"
_BUILDER, _BUILT_AT = "builder", "built_at"  # the process building the index, and its last progress
_BUILD_POLL_S = 0.2
_BUILD_STALE_S = 600.0  # no progress for this long: the builder hangs, or its pid was reused
_PARSED = 50_000  # records kept parsed, at most (a training record is ~20 KB in memory)
_UNKEPT = 10_000  # statements read from the log held for the next flush, at most
_BUSY_MS = 5_000  # how long a statement waits for another process's write: sqlite3's default

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY, kind TEXT NOT NULL, keyids TEXT NOT NULL, inputs BLOB NOT NULL,
    outputs BLOB NOT NULL, statement BLOB
);
CREATE TABLE IF NOT EXISTS artifacts (
    digest BLOB NOT NULL, output INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (digest, output, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signers (keyid TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (keyid, idx))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS environments (env INTEGER PRIMARY KEY, names BLOB NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS env_packages (name TEXT NOT NULL, env INTEGER NOT NULL, PRIMARY KEY (name, env))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (env INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (env, idx))
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

Appended = tuple[int, View, Sequence[str], bytes]
"""An entry a recorder has just appended: its index, view, signers' key ids and statement bytes."""
Progress = Callable[[int, int], None]
"""(entries read so far, entries to read) while catching up."""


def _digest(raw: bytes) -> Digest:
    return Digest("sha256:" + raw.hex())


class LineageIndex:
    """The index of one store; `open` it beside the store's log, `catch_up`, then query it."""

    def __init__(self, db: sqlite3.Connection, reader: LogReader | None = None) -> None:
        self.db = db
        self.reader = reader
        # Records read back, by log index: an entry never changes, and one query meets the same
        # actor or training record again and again (an impact's runs share a few actors).
        self._parsed: dict[int, Record] = {}
        self._unkept: list[tuple[bytes, int]] = []  # statements read from the log, to keep
        self._environments = filing.Environments()

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
        self.flush()
        self.db.close()

    # -- keeping up with the log ----------------------------------------------------------------

    def catch_up(
        self, reader: LogReader, on_progress: Progress | None = None, *, open_reader: Opener | None = None
    ) -> int:
        """Index the log's entries past `indexed_size`; return how many were read. Given
        `open_reader` (`TransparencyLog.read_only_opener`), the workers that parse a long backlog
        read it themselves."""
        self.reader = reader
        # Read before the reader's snapshot begins (at its first statement): entries are committed
        # to the log before any index files them, so an index that was ahead of this snapshot then
        # is ahead of the log itself (restored from an older copy). One ahead later was moved on
        # by another process meanwhile.
        before = self._get("indexed_size")
        size = reader.size()
        shorter = isinstance(before, int) and before > size
        try:
            while (read := self._file_past(reader, size, shorter, on_progress, open_reader)) is None:
                # Another process filed some of them meanwhile: go on from where it got (past a
                # shorter log's index, made afresh already).
                shorter = False
        except sqlite3.Error as e:
            raise StoreError(f"the lineage index could not be updated: {e}") from None
        return read

    def _file_past(
        self,
        reader: LogReader,
        size: int,
        shorter: bool,
        on_progress: Progress | None,
        open_reader: Opener | None,
    ) -> int | None:
        """File the entries from `indexed_size` to `size`; how many; None when another process
        moved `indexed_size` first. `shorter`: the log is shorter than the index."""
        start = self._start(reader, size, shorter)
        workers = parsing.workers_for(size - start)
        # Workers send back no statements: the queries read those they need from the log.
        parse = partial(filing.parse_chunk, keep_statements=not workers)
        if workers and open_reader is not None:
            ranges = ((a, min(size, a + _CHUNK)) for a in range(start, size, _CHUNK))
            parsed = parsing.read_and_parsed_in_order(parse, ranges, workers, open_reader)
        else:
            parsed = parsing.parsed_in_order(parse, _chunks(reader, start, size), workers)
        if start == 0 and workers:
            with gcpause.paused():  # millions of rows come back, none in a reference cycle
                self._build(parsed, size, on_progress)
            return size
        at = start
        for end, rows in parsed:
            if not self._write(rows, at, end):
                return None
            at = end
            if on_progress is not None:
                on_progress(end - start, size - start)
        return size - start

    def _build(
        self, parsed: Iterator[tuple[int, filing.Rows]], size: int, on_progress: Progress | None
    ) -> None:
        """File a long backlog into an empty index (a rebuild, the first command on a large
        store): the records and their signers first, then their artifacts, all at once and in
        key order.

        Filed as they come, the artifacts land at random in their B-tree, so that each commit
        writes back a page for nearly every row: most of what a rebuild cost. Sorted once and
        filed in order, each page is written once. Each chunk is still its own transaction (one
        transaction of a whole rebuild costs half as much again in WAL mode), so the index says
        it is being built (`_BUILDER`) and stays at `indexed_size` 0 until the artifacts are in:
        another process waits for it meanwhile, and an index left half built is cleared."""
        widest = 0
        try:
            with self.db:
                self._set(_BUILDER, os.getpid())
                self._set(_BUILT_AT, time.time())
            for end, rows in parsed:
                with self.db:
                    rows.write(self.db, self._environments, artifacts=False)
                    self._set(_BUILT_AT, time.time())
                widest = max(widest, rows.widest)
                if on_progress is not None:
                    on_progress(end, size)
            # SQLite's sorter shares the sort out over the cores, each thread sorting runs as large
            # as the page cache: with SQLite's default of 2 MB, runs that fit the CPU's caches,
            # the sort of a million hops' artifacts took a fifth less time than with 8 MB, and a
            # sixth of the memory (the inserts that follow, in key order, need only the B-tree's
            # right edge).
            self.db.execute(f"PRAGMA threads={jobs()}")
            self.db.execute(f"PRAGMA cache_size=-{_SORT_CACHE_KIB}")
            with self.db:
                filing.file_artifacts(self.db, size, widest)
                self.db.execute("DELETE FROM state WHERE key IN (?, ?)", (_BUILDER, _BUILT_AT))
                self._set("indexed_size", size)
        except BaseException:
            self._environments.forget()  # it may name environments a rollback took back
            raise
        finally:
            with suppress(sqlite3.Error):
                self.db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")

    def _start(self, reader: LogReader, size: int, shorter: bool) -> int:
        """Where to resume: 0 (after clearing) unless the index is this log's and the log is not
        `shorter` than it; `size` (nothing to file) when another process has filed past the
        reader's snapshot. While another process builds the index (see `_build`), wait for it."""
        genesis = merkle.leaf_hash(reader.entry(0)).hex() if size else ""
        while True:
            ok = self._get("version") == _VERSION and self._get("log") == genesis
            indexed = self._get("indexed_size")
            if not (ok and isinstance(indexed, int) and indexed >= 0) or shorter:
                break
            if indexed > size:
                return size
            if self._get(_BUILDER) is None:
                return indexed
            if self._builder_gone():
                break
            time.sleep(_BUILD_POLL_S)
        # Made afresh rather than emptied: an index of an earlier version has other tables.
        tables = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            quoted = table.replace('"', '""')  # a name as the file holds it, whatever it is
            self.db.execute(f'DROP TABLE IF EXISTS "{quoted}"')
        self.db.executescript(_SCHEMA)
        with self.db:
            self._set("version", _VERSION)
            self._set("log", genesis)
            self._set("indexed_size", 0)
        self._parsed.clear()
        self._environments.forget()
        return 0

    def _builder_gone(self) -> bool:
        """Whether the build under way was left behind: by this process (it failed), by one that
        is no longer running, or by one that has shown no progress for a long while."""
        pid, at = self._get(_BUILDER), self._get(_BUILT_AT)
        if not isinstance(pid, int) or pid == os.getpid() or not isinstance(at, float):
            return True
        if time.time() - at > _BUILD_STALE_S:
            return True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:  # alive, and another user's
            return False
        return False

    @contextmanager
    def adding(self) -> Iterator[Callable[[Sequence[Appended], int], bool]]:
        """A transaction for entries this process is appending to the log, filed from their views,
        signers and statement bytes (nothing is read back or parsed again).

        The function it gives files them while the log's own transaction is still open (see
        `TransparencyLog.append`'s `meanwhile`), when they are exactly the entries from
        `indexed_size` to the tree size it is given, and says whether it did; otherwise they are
        left to the next `catch_up`. Called again, it undoes what it filed first. What it filed is
        committed when the block ends (after the log's commit), and undone if the block raises."""
        failed: StoreError | None = None

        def add(entries: Sequence[Appended], tree_size: int) -> bool:
            nonlocal failed
            if self.db.in_transaction:
                self._undo()  # what an earlier call filed
            failed = None
            try:
                self.db.execute("BEGIN IMMEDIATE")
                if self._file_appended(entries, tree_size):
                    return True
            except sqlite3.Error as e:
                failed = StoreError(f"the lineage index could not be updated: {e}")
            self._undo()  # nothing to file, or it failed: the next catch-up files them
            return False

        try:
            yield add
        except BaseException:
            self._undo()
            raise
        if failed is not None:
            raise failed
        if self.db.in_transaction:
            try:
                self.db.commit()
            except sqlite3.Error as e:
                self._undo()
                raise StoreError(f"the lineage index could not be updated: {e}") from None

    def _file_appended(self, entries: Sequence[Appended], tree_size: int) -> bool:
        if not entries or self._get("indexed_size") != entries[0][0]:
            return False
        if [e[0] for e in entries] != list(range(entries[0][0], tree_size)):
            return False
        rows = filing.Rows()
        for index, seen, keyids, payload in entries:
            rows.add_view(index, seen, keyids, payload)
        self._file(rows, tree_size)
        return True

    def _undo(self) -> None:
        """Roll back the transaction under way, if any (never raises: SQLite may have rolled a
        failed one back itself)."""
        if self.db.in_transaction:
            with suppress(sqlite3.Error):
                self.db.rollback()
        self._environments.forget()  # it may name environments the rollback took back

    def _write(self, rows: filing.Rows, start: int, end: int) -> bool:
        """File `rows` (of the entries from `start` to `end`) and move `indexed_size` to `end`, in
        one transaction; False, filing nothing, when the index is no longer at `start`: another
        process (a server's other worker, a command) caught up first, since it was read."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            if self._get("indexed_size") != start:
                self._undo()
                return False
            self._file(rows, end)
            self.db.commit()
        except BaseException:
            self._undo()
            raise
        return True

    def _file(self, rows: filing.Rows, indexed_size: int) -> None:
        """File `rows` and move `indexed_size`, in the transaction under way."""
        rows.write(self.db, self._environments)
        self._set("indexed_size", indexed_size)

    def names(self, artifact: Digest) -> bool:
        """Whether any hop names `artifact` (as an input or an output)."""
        return bool(self.named([artifact]))

    def named(self, artifacts: Iterable[Digest]) -> set[Digest]:
        """Those of `artifacts` that some hop names, asked in a few queries rather than one each."""
        by_raw: dict[bytes, list[Digest]] = {}
        for a in artifacts:
            by_raw.setdefault(raw_digest(a), []).append(a)
        wanted = list(by_raw)
        found: set[Digest] = set()
        for at in range(0, len(wanted), _QUERY_VALUES):
            chunk = wanted[at : at + _QUERY_VALUES]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT DISTINCT digest FROM artifacts WHERE digest IN ({marks})"  # noqa: S608
            for (raw,) in self.db.execute(sql, chunk):
                found.update(by_raw[raw])
        return found

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
        ).fetchall()
        return [self._hop_entry(idx, keyids, stored) for idx, keyids, stored in rows]

    def _parse(self, index: int, stored: bytes | None) -> Record:
        record = self._parsed.get(index)
        if record is None:
            record = _read(stored if stored is not None else self._from_log(index))
            assert record is not None  # it was indexed because it parsed
            if len(self._parsed) >= _PARSED:
                self._parsed.clear()
            self._parsed[index] = record
        return record

    def _from_log(self, index: int) -> bytes:
        """The statement of entry `index`, read from the log and kept at the next `flush`."""
        if self.reader is None:
            raise RuntimeError("catch_up(reader) first: statements are read from the log")
        payload = filing.statement_of(self.reader.entry(index))
        self._unkept.append((payload, index))
        if len(self._unkept) >= _UNKEPT:
            self.flush()
        return payload

    def flush(self) -> None:
        """Keep in the index the statements that queries have read from the log since the last
        flush (`Custody` flushes when each query ends). Only a saving: skipped, rather than
        waited for, while another process writes the index."""
        unkept, self._unkept = self._unkept, []
        if not unkept:
            return
        with suppress(sqlite3.Error):
            self.db.execute("PRAGMA busy_timeout = 0")
            try:
                with self.db:
                    self.db.executemany(
                        "UPDATE records SET statement = ? WHERE idx = ? AND statement IS NULL", unkept
                    )
            finally:
                self.db.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")

    def _hop_entry(self, index: int, keyids: str, stored: bytes | None) -> HopEntry:
        record = self._parse(index, stored)
        assert isinstance(record, HopRecord)  # it was filed as a hop because it reads as one
        return HopEntry(index=index, record=record, keyids=filing.signers(keyids))

    def hop(self, index: int) -> HopEntry | None:
        found = self._hops("?", (index,))
        return found[0] if found else None

    def producers(self, artifact: Digest) -> Sequence[HopEntry]:
        return self._hops(_NAMING.format(output=1), (raw_digest(artifact),))

    def consumers(self, artifact: Digest) -> Sequence[HopEntry]:
        return self._hops(_NAMING.format(output=0), (raw_digest(artifact),))

    def hops_signed_by(self, keyids: Sequence[str]) -> Sequence[HopEntry]:
        marks = ", ".join("?" * len(keyids))
        return self._hops(f"SELECT idx FROM signers WHERE keyid IN ({marks})", tuple(keyids))  # noqa: S608

    def environments_with(self, package: str) -> Sequence[HopEntry]:
        return self._hops(
            "SELECT idx FROM runs WHERE env IN (SELECT env FROM env_packages WHERE name = ?)",
            (canonicalize_name(package),),
        )

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
        known = self._parsed.get(index)
        if known is not None:
            return known
        (stored,) = self.db.execute("SELECT statement FROM records WHERE idx = ?", (index,)).fetchone()
        return self._parse(index, stored)

    def grants(self, *, grantee: str | None = None, artifact: Digest | None = None) -> Sequence[GrantEntry]:
        where: list[str] = ["1"]
        params: list[object] = []
        if grantee is not None:
            where.append("grantee = ?")
            params.append(grantee)
        if artifact is not None:
            where.append("artifact = ?")
            params.append(raw_digest(artifact))
        sql = f"SELECT grant_id, idx, revoked_at FROM grants WHERE {' AND '.join(where)} ORDER BY idx"  # noqa: S608
        return [self._grant(*row) for row in self.db.execute(sql, params).fetchall()]

    def grant(self, grant_id: Digest) -> GrantEntry | None:
        row = self.db.execute(
            "SELECT grant_id, idx, revoked_at FROM grants WHERE grant_id = ?", (raw_digest(grant_id),)
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
            keyids=filing.signers(keyids),
            revoked_at=revoked_at,
        )

    def key(self, keyid: str) -> KeyRecord | None:
        if self.reader is None:
            raise RuntimeError("catch_up(reader) first: keys are read from the log")
        return self.reader.key(keyid)

    def records(self) -> Iterator[tuple[int, str]]:
        """(index, kind) of every custody entry indexed, in log order."""
        yield from self.db.execute("SELECT idx, kind FROM records ORDER BY idx")


def _chunks(reader: LogReader, start: int, end: int) -> Iterator[parsing.Chunk]:
    for first in range(start, end, _CHUNK):
        yield first, list(reader.entries(first, min(end, first + _CHUNK)))


def _read(payload: bytes) -> Record | None:
    """The record an indexed statement states. It was admitted, so the plain C parser reads it
    (the untrusted-input parser's duplicate-key check costs as much again, for nothing here)."""
    return predicates.from_statement(statement_mod.from_json_obj(json.loads(payload)))


def _connect(path: str) -> sqlite3.Connection:
    # Any thread may use the index, one at a time (a server's request threads, under its lock), as
    # the log's own connections are used.
    db = sqlite3.connect(
        path, isolation_level=None if path == ":memory:" else "DEFERRED", check_same_thread=False
    )
    try:
        db.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
        db.execute("PRAGMA synchronous=OFF")
        # A recorder's batch dirties a page of the artifacts' B-tree for nearly every artifact
        # (3,300 pages, 13 MB, a thousand hops at 1M): with SQLite's default, every commit copied
        # them back into the file. Checkpointed every 20,000 pages instead, a page dirtied by
        # several batches is copied once: a commit took 27 us a hop at 1M instead of 34.
        db.execute("PRAGMA wal_autocheckpoint=20000")
        # The artifacts' B-tree is looked up and grown at random: with its inner pages in the
        # cache, that costs one page read, not four (SQLite's default cache is 2 MB).
        db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        db.executescript(_SCHEMA)
        # Reading the schema page is enough to fail on a file that is not a database (a count of
        # the records would read all of a large index: a third of a cold query at 1M hops).
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error:
        db.close()
        raise
    db.isolation_level = "DEFERRED"
    return db


def rebuild(directory: Path, reader: LogReader, open_reader: Opener | None = None) -> int:
    """Drop the index file and build it again from the log; return the entries read.
    `open_reader` as for `LineageIndex.catch_up`."""
    with suppress(FileNotFoundError):
        (directory / INDEX_FILE).unlink()
    with closing(LineageIndex.open(directory)) as index:
        return index.catch_up(reader, open_reader=open_reader)
