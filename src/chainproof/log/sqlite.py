"""The embedded store: one SQLite database in WAL mode.

Durability: every write transaction commits with `synchronous=FULL`, so an acknowledged append
survives a crash or SIGKILL. Isolation: readers run in WAL snapshots while one writer holds the
lock that `BEGIN IMMEDIATE` takes; a second writer waits for it up to the busy timeout.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from chainproof.errors import StoreError
from chainproof.log import tiles as tl
from chainproof.log.entries import KeyRecord
from chainproof.log.merkle import Node
from chainproof.log.store import FORMAT
from chainproof.log.tiles import Tile, TileId

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE entries (idx INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE leaf_index (hash BLOB PRIMARY KEY, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE tiles (
    level INTEGER NOT NULL, idx INTEGER NOT NULL, width INTEGER NOT NULL, hashes BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL);
CREATE TABLE keys (
    keyid TEXT PRIMARY KEY, name TEXT NOT NULL, public_key BLOB NOT NULL, role TEXT NOT NULL,
    registered_at INTEGER NOT NULL, revoked_from INTEGER, revoked_at INTEGER
) WITHOUT ROWID;
"""
_BUSY_TIMEOUT_S = 60.0
_IN_CHUNK = 500


def _store_error(path: Path, e: sqlite3.Error) -> StoreError:
    text = str(e)
    if isinstance(e, sqlite3.OperationalError) and "locked" in text:
        return StoreError(f"{path}: another writer held the store for over {_BUSY_TIMEOUT_S:.0f} s")
    if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
        return StoreError(f"{path} is damaged or not a chainproof store ({text})")
    return StoreError(f"{path}: {text}")


class _Session:
    """One transaction's view of the database: what LogReader and LogWriter ask for."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def size(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(idx) + 1, 0) FROM entries").fetchone()[0])

    def entry(self, index: int) -> bytes:
        row = self._db.execute("SELECT body FROM entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise StoreError(f"entry {index} is missing from the store")
        return _blob(row[0], f"entry {index}")

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        cur = self._db.execute(
            "SELECT idx, body FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        )
        expected = start
        for idx, body in cur:
            if idx != expected:
                raise StoreError(f"entry {expected} is missing from the store")
            expected += 1
            yield _blob(body, f"entry {idx}")
        if expected != end:
            raise StoreError(f"entry {expected} is missing from the store")

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for start in range(0, len(leaf_hashes), _IN_CHUNK):
            chunk = leaf_hashes[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT hash, idx FROM leaf_index WHERE hash IN ({marks})"  # noqa: S608 -- only '?' marks
            found.update((bytes(h), int(i)) for h, i in self._db.execute(query, chunk))
        return found

    def _tile_row(self, tid: TileId) -> tuple[int, bytes] | None:
        row = self._db.execute(
            "SELECT width, hashes FROM tiles WHERE level = ? AND idx = ?", (tid.level, tid.index)
        ).fetchone()
        return None if row is None else (int(row[0]), _blob(row[1], f"tile {tid.level}/{tid.index}"))

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, Tile]:
        found: dict[TileId, Tile] = {}
        for tid in ids:
            row = self._tile_row(tid)
            if row is not None:
                found[tid] = Tile(tid, tl.base_of(row[1], row[0]))
        return found

    def node_hashes(self, nodes: Sequence[Node]) -> list[bytes]:
        rows: dict[TileId, tuple[int, bytes]] = {}
        out: list[bytes] = []
        for node in nodes:
            tid, r, position = tl.locate(node)
            if tid not in rows:
                row = self._tile_row(tid)
                if row is None:
                    raise StoreError(f"tile {tid.level}/{tid.index} is missing from the store")
                rows[tid] = row
            width, encoded = rows[tid]
            try:
                out.append(tl.node_from_tile(encoded, width, r, position))
            except ValueError:
                raise StoreError(f"tile {tid.level}/{tid.index} is shorter than the tree") from None
        return out

    def tile_level(self, level: int) -> Iterator[tuple[int, int, bytes]]:
        cur = self._db.execute("SELECT idx, width, hashes FROM tiles WHERE level = ? ORDER BY idx", (level,))
        for idx, width, hashes in cur:
            yield int(idx), int(width), _blob(hashes, f"tile {level}/{idx}")

    def checkpoint(self, size: int | None = None) -> str | None:
        if size is None:
            row = self._db.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        else:
            row = self._db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
        return None if row is None else str(row[0])

    def checkpoints(self) -> Iterator[tuple[int, str]]:
        for size, note in self._db.execute("SELECT size, note FROM checkpoints ORDER BY size"):
            yield int(size), str(note)

    def key(self, keyid: str) -> KeyRecord | None:
        row = self._db.execute("SELECT * FROM keys WHERE keyid = ?", (keyid,)).fetchone()
        return None if row is None else _key_record(row)

    def keys(self) -> list[KeyRecord]:
        return [_key_record(r) for r in self._db.execute("SELECT * FROM keys ORDER BY registered_at")]

    # -- writing ---------------------------------------------------------------------------

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def append(self, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> int:
        if len(leaves) != len(leaf_hashes):
            raise ValueError("one leaf hash per leaf")
        first = self.size()
        written = tl.extend(first, self.tiles(tl.edge(first)), leaf_hashes)
        self._db.executemany(
            "INSERT INTO entries (idx, body) VALUES (?, ?)",
            zip(range(first, first + len(leaves)), leaves, strict=True),
        )
        self._db.executemany(
            "INSERT INTO leaf_index (hash, idx) VALUES (?, ?)",
            sorted(zip(leaf_hashes, range(first, first + len(leaves)), strict=True)),
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO tiles (level, idx, width, hashes) VALUES (?, ?, ?, ?)",
            ((t.id.level, t.id.index, t.width, t.encode()) for t in written),
        )
        return first

    def put_key(self, record: KeyRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO keys VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.keyid,
                record.name,
                record.public_key,
                record.role,
                record.registered_at,
                record.revoked_from,
                record.revoked_at,
            ),
        )

    def add_checkpoint(self, size: int, note: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)", (size, note))


def _blob(value: object, what: str) -> bytes:
    """A BLOB column's value; anything else (say TEXT written by hand) means a damaged store."""
    if not isinstance(value, bytes):
        raise StoreError(f"{what} is not stored as bytes; the store is damaged")
    return value


def _key_record(row: tuple[object, ...]) -> KeyRecord:
    keyid, name, public_key, role, registered_at, revoked_from, revoked_at = row
    return KeyRecord(
        keyid=str(keyid),
        name=str(name),
        public_key=_blob(public_key, f"key {keyid}"),
        role=str(role),
        registered_at=int(registered_at),  # type: ignore[call-overload]
        revoked_from=None if revoked_from is None else int(revoked_from),  # type: ignore[call-overload]
        revoked_at=None if revoked_at is None else int(revoked_at),  # type: ignore[call-overload]
    )


class SqliteStore:
    """A LogStore in one SQLite file."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = path
        mode = "rwc" if create else "rw"
        if not create and not path.is_file():
            raise StoreError(f"no log database at {path}")
        try:
            self._db = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode={mode}",
                uri=True,
                isolation_level=None,
                timeout=_BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute("PRAGMA cache_size = -65536")
            if create:
                self._create()
            elif self._format() != FORMAT:
                raise StoreError(f"{path} is not a {FORMAT} store")
        except sqlite3.Error as e:
            raise _store_error(path, e) from None

    def _create(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _format(self) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    @contextmanager
    def reader(self) -> Iterator[_Session]:
        try:
            self._db.execute("BEGIN")
            try:
                yield _Session(self._db)
            finally:
                self._db.execute("ROLLBACK")
        except sqlite3.Error as e:
            raise _store_error(self.path, e) from None

    @contextmanager
    def writer(self) -> Iterator[_Session]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            raise _store_error(self.path, e) from None
        try:
            yield _Session(self._db)
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            self._db.execute("ROLLBACK")
            raise _store_error(self.path, e) from None
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
