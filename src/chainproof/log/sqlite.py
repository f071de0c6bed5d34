"""The embedded store: one SQLite database in WAL mode, plus a derived leaf-hash index beside it.

Durability: every write transaction commits with `synchronous=FULL`, so an acknowledged append
survives a crash or SIGKILL. Isolation: readers run in WAL snapshots while one writer holds the
lock that `BEGIN IMMEDIATE` takes; a second writer waits for it up to the busy timeout.

The leaf-hash index (for `find_leaves`) lives in a second database, `leaf-index.db`, ATTACHed to
the same connection, and written with `synchronous=OFF`: its random-key B-tree inserts would
otherwise dominate the cost of an append. It is derived data (every
leaf hash is in the level-0 tiles) and only a hint: it maps the first 8 bytes of a leaf hash to the
entry indexes whose hash starts so (two integers per row: half the size of a row keyed by the whole
hash), every hit is confirmed against the level-0 tile at its index, entries past its high-water
mark `indexed_size` are found by scanning the tiles, and a side file that is missing, damaged or
belongs to another log is rebuilt from the tiles.

Only a writer that looks leaves up keeps the index: once its transaction has committed, it indexes
every entry past the mark, its own included, in a short transaction of its own. The custody log
does so on every append (it deduplicates); an append that looks nothing up (raw leaves, which are
not deduplicated) leaves its entries to the next writer that does. Never in the log's own
transaction: in WAL mode a transaction across attached databases commits file by file, so an index
that could not be written (a full disk) would fail a COMMIT whose entries were already in the log,
and report an append failed that had succeeded. On its own, an index write that fails costs only
a scan of the tiles past the mark, until the next writer catches up.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial
from pathlib import Path
from typing import Protocol, cast

from chainproof.errors import StoreError
from chainproof.log import bundles as bx
from chainproof.log import tiles as tl
from chainproof.log.merkle import HASH_SIZE
from chainproof.log.store import FORMAT, KeyRecord, KeyRole, LogReader
from chainproof.log.tiles import Tile, TileId

_ENTRY_TABLES = """
CREATE TABLE entry_bundles (
    idx INTEGER PRIMARY KEY, width INTEGER NOT NULL, ends BLOB NOT NULL, body BLOB NOT NULL,
    outside BLOB NOT NULL
);
CREATE TABLE large_entries (idx INTEGER PRIMARY KEY, body BLOB NOT NULL)
"""
_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
{_ENTRY_TABLES};
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
_WRITE_POLL_S = 0.0005
_IN_CHUNK = 500
_SCAN_ENTRIES = 1024  # entries per chunk when scanning, at most
_SCAN_BYTES = 1 << 25  # and bytes, once large entries come in
_BUNDLE_ROW = "(idx, width, ends, body, outside) VALUES (?, ?, ?, ?, ?)"

LEAF_INDEX_FILE = "leaf-index.db"
_IDX_SCHEMA = """
CREATE TABLE IF NOT EXISTS leafidx.leaf_keys (
    k INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (k, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS leafidx.state (key TEXT PRIMARY KEY, value) WITHOUT ROWID
"""
_IDX_ID_KEY = "leaf_index_id"  # in main.meta and in the side state: which log the index belongs to
_REBUILD_CHUNK = 1 << 16
_OLD_INDEX = "leaf_index"  # the table of whole hashes that earlier versions kept
_FORMAT_ROWS = "chainproof-log/1"  # a store with a row per entry, which opening converts


def leaf_key(leaf_hash: bytes) -> int:
    """The leaf index's key for a leaf hash: its first 8 bytes as a signed 64-bit integer."""
    return int.from_bytes(leaf_hash[:8], "big", signed=True)


# Errors that say nothing about the file's contents: the machine, the file system or another
# process got in the way. Rebuilding the leaf index would not help (and a full disk would fail it).
_CIRCUMSTANCES = (
    "SQLITE_FULL",
    "SQLITE_READONLY",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_PERM",
    "SQLITE_NOMEM",
)


def _error_name(e: sqlite3.Error) -> str:
    """SQLite's name for the error (`SQLITE_FULL`, ...); empty for one raised other than by SQLite."""
    return getattr(e, "sqlite_errorname", None) or ""


def _is_damage(e: sqlite3.Error) -> bool:
    if not isinstance(e, sqlite3.DatabaseError):
        return False
    if _error_name(e).startswith(_CIRCUMSTANCES):
        return False
    text = str(e).lower()
    return not ("locked" in text or "busy" in text or "interrupt" in text)


def leaf_index_path(path: Path) -> Path:
    """Where the leaf-hash index of the store at `path` lives."""
    return path.with_name(LEAF_INDEX_FILE if path.name == "log.db" else f"{path.name}.leaf-index")


_NEARLY_FULL = 1 << 20  # bytes free: less, and a failed write is taken for a full disk


def _disk_full(path: Path, e: sqlite3.Error) -> bool:
    """Whether `e` came of a full disk: SQLite says so, or a write failed where almost no space is
    left (SQLite reports a -shm file it could not extend, 32 KB at a time, as an I/O error)."""
    name = _error_name(e)
    if name == "SQLITE_FULL":
        return True
    if not name.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN")):
        return False
    try:
        found = os.statvfs(path.parent)
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < _NEARLY_FULL


def _store_error(path: Path, e: sqlite3.Error) -> StoreError:
    text = str(e)
    name = _error_name(e)
    if _disk_full(path, e):
        return StoreError(f"{path}: the disk is full ({text})")
    if name.startswith("SQLITE_READONLY"):
        return StoreError(f"{path}: this user cannot write the store ({text})")
    if name.startswith("SQLITE_IOERR"):
        return StoreError(f"{path}: the file system failed a read or write ({text})")
    if isinstance(e, sqlite3.OperationalError) and "locked" in text:
        return StoreError(f"{path}: another writer held the store for over {_BUSY_TIMEOUT_S:.0f} s")
    if isinstance(e, sqlite3.DatabaseError) and not isinstance(e, sqlite3.OperationalError):
        return StoreError(f"{path} is damaged or not a chainproof store ({text})")
    return StoreError(f"{path}: {text}")


_TileRow = tl.TileRow
_TileKey = tuple[int, int]  # (level, index), as a TileId is
_CACHED_TILES = 2048
CACHE_KIB = 65536
"""SQLite's page cache for one connection, by default: a large log's writer and auditor use it all.
A process holding many connections (a server) gives each less (`SqliteStore(cache_kib=)`)."""
"""Tiles a store keeps in memory for proofs (at most 16 KB each): the upper levels that every proof
crosses are read once."""


class _Db(Protocol):
    """What a session uses of a connection."""

    def execute(self, sql: str, parameters: Sequence[object] = ..., /) -> sqlite3.Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]], /) -> sqlite3.Cursor: ...

    def blobopen(self, table: str, column: str, row: int, /, *, readonly: bool) -> sqlite3.Blob: ...


class _ReadOnDemand:
    """A connection whose read transaction begins with its first statement: a reader that finds
    everything it needs in memory (a proof from tiles already read) runs no SQL at all. SQLite
    takes a deferred transaction's snapshot at its first read in any case, so what the reader
    sees is the same."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.begun = False

    def _begin(self) -> None:
        if not self.begun:
            self._db.execute("BEGIN")
            self.begun = True

    def execute(self, sql: str, parameters: Sequence[object] = (), /) -> sqlite3.Cursor:
        self._begin()
        return self._db.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]], /) -> sqlite3.Cursor:
        raise TypeError("a reader does not write")

    def blobopen(self, table: str, column: str, row: int, /, *, readonly: bool) -> sqlite3.Blob:
        self._begin()
        return self._db.blobopen(table, column, row, readonly=readonly)

    def end(self) -> None:
        if self.begun:
            self._db.execute("ROLLBACK")
            self.begun = False


class _Session:
    """One transaction's view of the database: what LogReader and LogWriter ask for."""

    def __init__(
        self,
        db: _Db,
        tiles_read: dict[_TileKey, _TileRow] | None = None,
        *,
        writer: bool = False,
        indexed: bool = True,
    ) -> None:
        """`indexed`: whether the leaf index is attached (else lookups scan the tiles)."""
        self._db = db
        self._writer = writer
        self._has_index = indexed
        # A log only grows: a committed tile only ever gains hashes, so a version of it read once
        # serves every node it is wide enough for, in any later transaction. Writers get no cache:
        # they could read tiles of their own that a rollback then takes back.
        self._tiles_read = tiles_read
        # The size the index covers once `catch_up` ran; other sessions ask the index.
        self._indexed: int | None = None
        # For a writer that looked leaves up: where the index it found ended (a lost append may
        # have left the mark past the log's end), for the store to index from once it commits.
        self.index_from: int | None = None
        # The index failed to read or write: answers come from the tiles, and the store
        # rebuilds the index before its next transaction.
        self.damaged = False

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def size(self) -> int:
        row = self._db.execute("SELECT idx, width FROM entry_bundles ORDER BY idx DESC LIMIT 1").fetchone()
        if row is None:
            return 0
        index, width = row
        if not isinstance(width, int) or not 0 < width <= bx.WIDTH:
            raise StoreError(f"entry bundle {index} claims {width!r} entries; the store is damaged")
        return int(index) * bx.WIDTH + width

    def entry(self, index: int) -> bytes:
        k, position = divmod(index, bx.WIDTH)
        row = self._db.execute(
            "SELECT width, ends, length(outside), typeof(body) FROM entry_bundles WHERE idx = ?", (k,)
        ).fetchone()
        if row is None:
            raise StoreError(f"entry {k * bx.WIDTH} is missing from the store")
        width, ends, outside, body_type = row
        if outside or body_type != "blob":  # entries kept outside, or damage: read the bundle whole
            slots = self._slots(k)
            if position >= len(slots):
                raise StoreError(f"entry {index} is missing from the store")
            found = slots[position]
            return found if found is not None else self._large(index)
        return self._inside(k, width, ends, position)

    def _inside(self, k: int, width: object, ends: object, position: int) -> bytes:
        """Entry `position` of bundle k, read alone from the body: reading the whole body first
        would cost five times as much for an entry at random, and ten for one near the start."""
        if not isinstance(width, int) or not 0 < width <= bx.WIDTH:
            raise StoreError(f"entry bundle {k} claims {width!r} entries; the store is damaged")
        try:
            with self._db.blobopen("entry_bundles", "body", k, readonly=True) as body:
                start, end = bx.span(_blob(ends, f"entry bundle {k}"), width, position, len(body))
                body.seek(start)
                return body.read(end - start)
        except bx.BundleError as e:
            raise StoreError(f"entry bundle {k} is damaged: {e}") from None
        except IndexError:
            raise StoreError(f"entry {k * bx.WIDTH + position} is missing from the store") from None

    def _slots(self, k: int) -> list[bytes | None]:
        """Bundle k's entries, None where one is kept outside it."""
        row = self._db.execute(
            "SELECT width, ends, body, outside FROM entry_bundles WHERE idx = ?", (k,)
        ).fetchone()
        if row is None:
            raise StoreError(f"entry {k * bx.WIDTH} is missing from the store")
        return _bundle(k, *row)

    def _large(self, index: int) -> bytes:
        row = self._db.execute("SELECT body FROM large_entries WHERE idx = ?", (index,)).fetchone()
        if row is None:
            raise StoreError(f"entry {index} is missing from the store")
        return _blob(row[0], f"entry {index}")

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        for chunk in self.entry_chunks(start, end):
            yield from chunk

    def entry_chunks(self, start: int, end: int) -> Iterator[list[bytes]]:
        if start >= end:
            return
        first, last = start // bx.WIDTH, (end - 1) // bx.WIDTH
        cur = self._db.execute(
            "SELECT idx, width, ends, body, outside FROM entry_bundles"
            " WHERE idx BETWEEN ? AND ? ORDER BY idx",
            (first, last),
        )
        expected = first
        chunk: list[bytes] = []
        held = 0  # bytes in `chunk`
        # A few bundles to a chunk: an audit or export reads every entry, and it pays per chunk.
        for k, width, ends, body, outside in cur:
            if k != expected:
                raise StoreError(f"entry {max(start, expected * bx.WIDTH)} is missing from the store")
            slots = _bundle(k, width, ends, body, outside)
            base = k * bx.WIDTH
            wanted = min(end - base, bx.WIDTH)
            if len(slots) < wanted:
                raise StoreError(f"entry {base + len(slots)} is missing from the store")
            if outside:  # some entries live in rows of their own: fetch them one by one
                for position in range(max(start - base, 0), wanted):
                    entry = slots[position]
                    chunk.append(self._large(base + position) if entry is None else entry)
                    held += len(chunk[-1])
                    if held >= _SCAN_BYTES:
                        yield chunk
                        chunk, held = [], 0
            else:
                chunk += cast("list[bytes]", slots[max(start - base, 0) : wanted])
                held += len(cast("bytes", body))
            if len(chunk) >= _SCAN_ENTRIES or held >= _SCAN_BYTES:
                yield chunk
                chunk, held = [], 0
            expected += 1
        if expected != last + 1:
            raise StoreError(f"entry {max(start, expected * bx.WIDTH)} is missing from the store")
        if chunk:
            yield chunk

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        if not leaf_hashes:
            return {}
        size = self.size()
        indexed, hints = self._index_hints(leaf_hashes) if self._has_index else (0, [])
        if self._writer:
            self.index_from = min(indexed, size, size if self.index_from is None else self.index_from)
        found = self._confirm(hints, size)
        if min(indexed, size) < size and len(found) < len(set(leaf_hashes)):
            wanted = set(leaf_hashes).difference(found)
            for index, h in self._leaf_hashes_from(min(indexed, size), size):
                if h in wanted:
                    found.setdefault(h, index)
        return found

    def _index_hints(self, leaf_hashes: Sequence[bytes]) -> tuple[int, list[tuple[bytes, int]]]:
        """The size the index covers, and the (leaf hash, index) pairs it hints at; (0, []) when
        it turns out damaged."""
        by_key: dict[int, list[bytes]] = {}
        for h in leaf_hashes:
            by_key.setdefault(leaf_key(h), []).append(h)
        keys = list(by_key)
        hints: list[tuple[bytes, int]] = []
        try:
            indexed = self._indexed if self._indexed is not None else _indexed_size(self._db)
            for start in range(0, len(keys), _IN_CHUNK):
                chunk = keys[start : start + _IN_CHUNK]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT k, idx FROM leafidx.leaf_keys WHERE k IN ({marks})"  # noqa: S608 -- only '?' marks
                hints += [(h, int(i)) for k, i in self._db.execute(query, chunk) for h in by_key.get(k, ())]
        except sqlite3.Error as e:
            if not _is_damage(e):
                raise
            self._mark_damaged()
            return 0, []
        return indexed, hints

    def _confirm(self, hints: list[tuple[bytes, int]], size: int) -> dict[bytes, int]:
        """Each hash's lowest hinted index where the level-0 tiles hold that very leaf hash."""
        by_tile: dict[int, list[tuple[bytes, int]]] = {}
        for h, index in hints:
            if 0 <= index < size:
                by_tile.setdefault(index // tl.WIDTH, []).append((h, index))
        found: dict[bytes, int] = {}
        for tile_index, rows in by_tile.items():
            row = self._tile_row(TileId(0, tile_index))
            if row is None:
                continue
            width, encoded = row
            for h, index in rows:
                position = index - tile_index * tl.WIDTH
                if position < width and encoded[position * HASH_SIZE : (position + 1) * HASH_SIZE] == h:
                    found[h] = min(index, found.get(h, index))
        return found

    def _leaf_hashes_from(self, start: int, end: int) -> Iterator[tuple[int, bytes]]:
        """(index, leaf hash) for indexes [start, end), read from the level-0 tiles."""
        cur = self._db.execute(
            "SELECT idx, width, hashes FROM tiles WHERE level = 0 AND idx >= ? AND idx <= ? ORDER BY idx",
            (start // tl.WIDTH, (end - 1) // tl.WIDTH),
        )
        for tile_index, width, hashes in cur:
            encoded = _blob(hashes, f"tile 0/{tile_index}")
            base = int(tile_index) * tl.WIDTH
            for position in range(max(0, start - base), min(int(width), end - base)):
                yield base + position, encoded[position * HASH_SIZE : (position + 1) * HASH_SIZE]

    def _mark_damaged(self) -> None:
        self.damaged = True
        self._indexed = 0

    def catch_up(self, since: int | None = None) -> None:
        """Index the entries the side index is missing: those of the last writes (see the module's
        doc), or after a crash or a lost write; from `since` on at the latest."""
        size = self.size()
        if self._writer and self.index_from is None:
            self.index_from = size
        try:
            indexed = _indexed_size(self._db)
            if since is not None:
                indexed = min(indexed, since)
            if indexed < size:
                rows: list[tuple[bytes, int]] = []
                for index, h in self._leaf_hashes_from(indexed, size):
                    rows.append((h, index))
                    if len(rows) >= _REBUILD_CHUNK:
                        self._index_rows(rows)
                        rows = []
                self._index_rows(rows)
            if indexed != size:
                self._db.execute("UPDATE leafidx.state SET value = ? WHERE key = 'indexed_size'", (size,))
        except sqlite3.Error as e:
            if not _is_damage(e):
                raise
            self._mark_damaged()
            return
        self._indexed = size

    def _index_rows(self, rows: list[tuple[bytes, int]]) -> None:
        # In key order: each insert then lands beside the last one, in pages already at hand.
        keyed = sorted([(leaf_key(h), index) for h, index in rows])
        self._db.executemany("INSERT OR IGNORE INTO leafidx.leaf_keys (k, idx) VALUES (?, ?)", keyed)

    def _tile_row(self, tid: TileId) -> _TileRow | None:
        row = self._db.execute(
            "SELECT width, hashes FROM tiles WHERE level = ? AND idx = ?", (tid.level, tid.index)
        ).fetchone()
        return None if row is None else (int(row[0]), _blob(row[1], f"tile {tid.level}/{tid.index}"))

    def _tile_covering(self, rows: dict[_TileKey, _TileRow], key: _TileKey, width: int) -> _TileRow:
        """Tile `key` (level, index) from the database, at least `width` hashes wide, kept in `rows`."""
        row = self._tile_row(TileId(*key))
        if row is None:
            raise StoreError(f"tile {key[0]}/{key[1]} is missing from the store")
        if row[0] < width:
            raise StoreError(f"tile {key[0]}/{key[1]} is shorter than the tree")
        if len(rows) >= _CACHED_TILES:
            rows.clear()
        rows[key] = row
        return row

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, Tile]:
        found: dict[TileId, Tile] = {}
        for tid in ids:
            row = self._tile_row(tid)
            if row is not None:
                found[tid] = Tile(tid, tl.base_of(row[1], row[0]))
        return found

    def node_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        # A reader keeps the tiles it reads for later transactions (see `_tiles_read`); a writer
        # keeps them for this call only.
        rows: dict[_TileKey, _TileRow] = {} if self._tiles_read is None else self._tiles_read
        return tl.node_hashes(nodes, rows, partial(self._tile_covering, rows))

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

    def append(self, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes], tiles: Sequence[Tile]) -> int:
        if len(leaves) != len(leaf_hashes):
            raise ValueError("one leaf hash per leaf")
        first = self.size()
        bundles = self._bundle_rows(first, leaves)
        self._db.executemany(f"INSERT OR REPLACE INTO entry_bundles {_BUNDLE_ROW}", bundles)
        if any(outside for *_, outside in bundles):  # some entries are large, or were already
            large = [(first + i, leaf) for i, leaf in enumerate(leaves) if bx.is_large(leaf)]
            self._db.executemany("INSERT INTO large_entries (idx, body) VALUES (?, ?)", large)
        self._db.executemany(
            "INSERT OR REPLACE INTO tiles (level, idx, width, hashes) VALUES (?, ?, ?, ?)",
            ((t.id.level, t.id.index, t.width, t.encode()) for t in tiles),
        )
        return first

    def _bundle_rows(self, first: int, leaves: Sequence[bytes]) -> list[tuple[int, int, bytes, bytes, bytes]]:
        """The bundles to write when `leaves` follow entry `first - 1`: the last one completed or
        extended, then new ones."""
        k, have = divmod(first, bx.WIDTH)
        pending: list[bytes | None] = [*self._slots(k)[:have], *leaves] if have else list(leaves)
        return [
            (k + offset // bx.WIDTH, len(part), *bx.encode(part))
            for offset in range(0, len(pending), bx.WIDTH)
            for part in [pending[offset : offset + bx.WIDTH]]
        ]

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


def _indexed_size(db: _Db) -> int:
    row = db.execute("SELECT value FROM leafidx.state WHERE key = 'indexed_size'").fetchone()
    if row is None or not isinstance(row[0], int):
        raise sqlite3.DatabaseError("the leaf index has no valid indexed_size")
    return row[0]


def _bundle(k: object, width: object, ends: object, body: object, outside: object) -> list[bytes | None]:
    """The entries of bundle `k` as a row holds them (None: kept outside); StoreError when the
    row's parts do not fit together."""
    if not isinstance(width, int):
        raise StoreError(f"entry bundle {k} claims {width!r} entries; the store is damaged")
    what = f"entry bundle {k}"
    try:
        return bx.decode(bx.Bundle(_blob(ends, what), _blob(body, what), _blob(outside, what)), width)
    except bx.BundleError as e:
        raise StoreError(f"entry bundle {k} is damaged: {e}") from None


def _blob(value: object, what: str) -> bytes:
    """A BLOB column's value; anything else (say TEXT written by hand) means a damaged store."""
    if not isinstance(value, bytes):
        raise StoreError(f"{what} is not stored as bytes; the store is damaged")
    return value


def _key_record(row: tuple[object, ...]) -> KeyRecord:
    keyid, name, public_key, role, registered_at, revoked_from, revoked_at = row
    if role not in tuple(KeyRole):
        raise StoreError(f"key {keyid} has the unknown role {role!r}; the store is damaged")
    return KeyRecord(
        keyid=str(keyid),
        name=str(name),
        public_key=_blob(public_key, f"key {keyid}"),
        role=KeyRole(str(role)),
        registered_at=int(registered_at),  # type: ignore[call-overload]
        revoked_from=None if revoked_from is None else int(revoked_from),  # type: ignore[call-overload]
        revoked_at=None if revoked_at is None else int(revoked_at),  # type: ignore[call-overload]
    )


@contextmanager
def read_only(path: Path, *, immutable: bool = False) -> Iterator[LogReader]:
    """A read transaction on a read-only connection of its own, for scans of entries and tiles
    (another process re-hashing part of the store, say); the leaf-hash index is not attached, so
    `find_leaves` is not available on it. `immutable` as the store that asks was opened (see
    `SqliteStore._open_read_only`): that store checks that the file did not change."""
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    try:
        db = sqlite3.connect(
            f"{path.absolute().as_uri()}?{query}", uri=True, isolation_level=None, timeout=_BUSY_TIMEOUT_S
        )
    except sqlite3.Error as e:
        raise _store_error(path, e) from None
    try:
        db.execute("BEGIN")
        yield _Session(db)
    except sqlite3.Error as e:
        raise _store_error(path, e) from None
    finally:
        db.close()


_Identity = tuple[int, int, int, int, int]


def _identity(path: Path) -> _Identity:
    """What changes whenever a file is written: (device, inode, size, mtime, ctime)."""
    try:
        st = path.stat()
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror}") from None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _writable(path: Path) -> bool:
    """Whether this process may write the database at `path` and create files beside it (its
    -wal and -shm), as a writer must: not on a read-only mount, nor as another user without the
    permission."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


class SqliteStore:
    """A LogStore in one SQLite file, with its leaf-hash index in a second one beside it.

    A store this process cannot write (see `_writable`) is opened read-only, unless `read_only`
    says otherwise: its readers work, and its writer is refused with a StoreError.
    """

    def __init__(
        self, path: Path, *, create: bool = False, read_only: bool | None = None, cache_kib: int = CACHE_KIB
    ) -> None:
        self.path = path
        self.index_path = leaf_index_path(path)
        self._index_damaged = False
        self._tiles_read: dict[_TileKey, _TileRow] = {}
        # The read transaction open on the connection, shared by readers nested in it, and the
        # write transaction's flag: one connection holds one transaction at a time.
        self._read: tuple[_ReadOnDemand, _Session] | None = None
        self._readers = 0
        self._writing = False
        # The database file as it was when opened to be read without SQLite's locks (immutable),
        # else None: see `_open_read_only`.
        self.unlocked: _Identity | None = None
        self._cache_kib = cache_kib
        mode = "rwc" if create else "rw"
        if not create and not path.is_file():
            raise StoreError(f"no log database at {path}")
        self.read_only = (not create and not _writable(path)) if read_only is None else read_only
        if self.read_only:
            self._open_read_only()
            return
        try:
            self._db = sqlite3.connect(
                f"{path.absolute().as_uri()}?mode={mode}",
                uri=True,
                isolation_level=None,
                timeout=_BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise _store_error(path, e) from None
        try:
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.execute(f"PRAGMA cache_size = -{int(self._cache_kib)}")
            if create:
                self._create()
            else:
                self._upgrade()
        except sqlite3.Error as e:
            self._db.close()
            raise _store_error(path, e) from None
        except BaseException:
            self._db.close()
            raise
        try:
            self._open_index()
        except sqlite3.Error as e:
            self._db.close()
            raise _store_error(self.index_path, e) from None
        except BaseException:
            self._db.close()
            raise

    def _open_read_only(self) -> None:
        """A connection for a reader that must write nothing, not even beside the store.

        SQLite reads a WAL database through its -shm file. A reader that cannot create one (in a
        directory it may not write) cannot open the database at all, and one that can would leave
        it behind, its own, where the store's writers may not be allowed to open it. So while no
        writer is at work (there is no -wal file: the last one folded everything into log.db and
        removed it), log.db is read as an immutable file, without locks or side files, and
        `check_unchanged` makes sure after each read that nobody wrote it meanwhile. While a
        writer is at work, or after one was killed, its -wal and -shm files are read as they are.
        The leaf index is not attached: lookups scan the tiles."""
        wal, shm = (self.path.with_name(self.path.name + suffix) for suffix in ("-wal", "-shm"))
        # The file as it is, then no -wal: so no checkpoint was under way after this was taken,
        # and any write since changed what `check_unchanged` compares it with.
        identity = _identity(self.path)
        query = "mode=ro"
        if not wal.exists():
            self.unlocked = identity
            query = "mode=ro&immutable=1"
        elif not shm.exists():
            raise StoreError(
                f"{self.path}: a writer's unfinished write-ahead log ({wal.name}) waits to be "
                "recovered, which this user cannot do; run any command on the store as a user who "
                "may write it"
            )
        try:
            db = sqlite3.connect(
                f"{self.path.absolute().as_uri()}?{query}",
                uri=True,
                isolation_level=None,
                timeout=_BUSY_TIMEOUT_S,
                check_same_thread=False,
            )
        except sqlite3.Error as e:
            raise _store_error(self.path, e) from None
        self._db = db
        try:
            db.execute(f"PRAGMA cache_size = -{int(self._cache_kib)}")
            found = self._format()
        except sqlite3.Error as e:
            db.close()
            raise _store_error(self.path, e) from None
        if found != FORMAT:
            db.close()
            if found == _FORMAT_ROWS:
                raise StoreError(
                    f"{self.path} was written by an earlier version of chainproof; run any command "
                    "on it once as a user who may write it, to convert it"
                )
            raise StoreError(f"{self.path} is not a {FORMAT} store")

    def check_unchanged(self) -> None:
        """For a store read without locks: StoreError if its file changed since it was opened.

        What was read may then mix two states of the store (a writer's checkpoint copies pages
        into log.db while it is read), so it must not be reported."""
        if self.unlocked is not None and _identity(self.path) != self.unlocked:
            raise StoreError(
                f"{self.path} was written while this user read it (without a lock, as it cannot "
                "write the store); run the command again"
            )

    @contextmanager
    def _setting_up(self) -> Iterator[None]:
        """A write transaction on the store's connection, to create, convert or index the store."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        """End the write transaction, whatever ended it.

        A COMMIT that fails (on a full disk, say) may have rolled the transaction back already,
        and a ROLLBACK then fails too: its error would hide the one that says what went wrong."""
        if self._db.in_transaction:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _run_script(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)

    def _create(self) -> None:
        with self._setting_up():
            self._run_script(_SCHEMA)
            self._db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))

    def _upgrade(self) -> None:
        found = self._format()
        if found == _FORMAT_ROWS:
            self._convert_rows()
        elif found != FORMAT:
            raise StoreError(f"{self.path} is not a {FORMAT} store")

    def _convert_rows(self) -> None:
        """Rewrite a store of one row per entry (format 1) into entry bundles, in one transaction:
        it either becomes a whole store of the current format or stays as it was."""
        with self._setting_up():
            if self._format() == _FORMAT_ROWS:  # another process may have converted it meanwhile
                self._run_script(_ENTRY_TABLES)
                self._bundle_rows_of_format_1()
                self._db.execute("DROP TABLE entries")
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'format'", (FORMAT,))

    def _bundle_rows_of_format_1(self) -> None:
        rows: list[tuple[int, int, bytes, bytes, bytes]] = []
        pending: list[bytes] = []
        expected = 0
        for index, body in self._db.execute("SELECT idx, body FROM entries ORDER BY idx"):
            if index != expected:
                raise StoreError(
                    f"{self.path}: entry {expected} is missing, so the store cannot be converted to "
                    f"{FORMAT}; it is left as it was"
                )
            pending.append(_blob(body, f"entry {index}"))
            expected += 1
            if bx.is_large(pending[-1]):
                self._db.execute("INSERT INTO large_entries (idx, body) VALUES (?, ?)", (index, pending[-1]))
            if len(pending) == bx.WIDTH:
                rows.append((index // bx.WIDTH, bx.WIDTH, *bx.encode(pending)))
                pending = []
            if len(rows) == bx.WIDTH:  # written as it goes: a large store is not held in memory
                self._db.executemany(f"INSERT INTO entry_bundles {_BUNDLE_ROW}", rows)
                rows = []
        if pending:
            rows.append((expected // bx.WIDTH, len(pending), *bx.encode(pending)))
        self._db.executemany(f"INSERT INTO entry_bundles {_BUNDLE_ROW}", rows)

    def _format(self) -> str | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else str(row[0])

    # -- the leaf-hash index -----------------------------------------------------------------

    def _open_index(self) -> None:
        """Attach the side index and bring it up to date; delete and rebuild it if it is damaged."""
        for attempt in range(2):
            try:
                self._attach_index()
                if self._index_needs_work():
                    self._prepare_index()
                self._index_damaged = False
                return
            except sqlite3.Error as e:
                if attempt or not _is_damage(e):
                    raise
                self._reset_index()

    def _attach_index(self) -> None:
        self._db.execute("ATTACH DATABASE ? AS leafidx", (f"{self.index_path.absolute().as_uri()}?mode=rwc",))
        self._db.execute("PRAGMA leafidx.journal_mode = WAL")
        self._db.execute("PRAGMA leafidx.synchronous = OFF")
        # Checkpoint less often: a B-tree page of the index that several appends dirty is then
        # copied into the file once (about 1.15x at 3M entries). SQLite keeps this setting per
        # connection, whatever schema a statement names: the log's own WAL also reaches ~80 MB
        # between checkpoints.
        self._db.execute("PRAGMA wal_autocheckpoint = 20000")

    def _reset_index(self) -> None:
        """Detach the side index and delete its files: the next attach starts it afresh."""
        with suppress(sqlite3.Error):
            self._db.execute("DETACH DATABASE leafidx")
        for suffix in ("", "-wal", "-shm", "-journal"):
            self.index_path.with_name(self.index_path.name + suffix).unlink(missing_ok=True)

    def _index_needs_work(self) -> bool:
        """Whether the index lacks its tables or belongs to another log, or an old store still holds
        its leaf index in the main file. A read, so that opening a store takes no lock: an index
        that is merely behind is caught up by the next writer (readers scan the tail meanwhile)."""
        self._db.execute("BEGIN")
        try:
            tables = {
                str(name)
                for (name,) in self._db.execute("SELECT name FROM leafidx.sqlite_master WHERE type = 'table'")
            }
            if not {"leaf_keys", "state"} <= tables or _OLD_INDEX in tables or self._main_has_old_index():
                return True
            token = _Session(self._db).meta(_IDX_ID_KEY)
            row = self._db.execute("SELECT value FROM leafidx.state WHERE key = ?", (_IDX_ID_KEY,)).fetchone()
            if token is None or row is None or row[0] != token:
                return True
            _indexed_size(self._db)  # readable, or damaged
            return False
        finally:
            self._db.execute("ROLLBACK")

    def _main_has_old_index(self) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?", (_OLD_INDEX,)
        ).fetchone()
        return row is not None

    def _prepare_index(self) -> None:
        """Under the write lock: create the index tables, migrate, adopt or clear, catch up."""
        with self._setting_up():
            self._run_script(_IDX_SCHEMA)
            if self._main_has_old_index():  # a store written before the index moved out
                self._db.execute(f"DROP TABLE main.{_OLD_INDEX}")
            if self._db.execute(
                "SELECT 1 FROM leafidx.sqlite_master WHERE type = 'table' AND name = ?", (_OLD_INDEX,)
            ).fetchone():  # an index of whole hashes, as earlier versions kept it: start afresh
                self._db.execute(f"DROP TABLE leafidx.{_OLD_INDEX}")
                self._db.execute("DELETE FROM leafidx.state")
            session = _Session(self._db)
            token = session.meta(_IDX_ID_KEY)
            if token is None:
                token = os.urandom(16).hex()  # as secrets.token_hex, without importing random
                session.set_meta(_IDX_ID_KEY, token)
            row = self._db.execute("SELECT value FROM leafidx.state WHERE key = ?", (_IDX_ID_KEY,)).fetchone()
            if row is None or row[0] != token:  # new, or another log's index: start it empty
                self._db.execute("DELETE FROM leafidx.leaf_keys")
                self._db.execute("DELETE FROM leafidx.state")
                self._db.execute("INSERT INTO leafidx.state VALUES (?, ?)", (_IDX_ID_KEY, token))
                self._db.execute("INSERT INTO leafidx.state VALUES ('indexed_size', 0)")
            session.catch_up()
            if session.damaged:
                raise sqlite3.DatabaseError("the leaf index is damaged")

    def _repair_index(self) -> None:
        """Rebuild the index that a transaction found damaged (between transactions only)."""
        try:
            self._reset_index()
            self._open_index()
        except sqlite3.Error as e:
            raise _store_error(self.index_path, e) from None

    def _index_new_entries(self, since: int) -> None:
        """Bring the leaf index up to the log's size, after a write (see the module's doc).

        Best effort: the entries are committed already. A writer holding the lock now keeps the
        index itself, so this does not wait for one; a full disk leaves the index behind, where
        the next writer catches up."""
        session = _Session(self._db)
        try:
            with self._not_waiting(), self._setting_up():
                session.catch_up(since)
        except sqlite3.Error as e:
            if _is_damage(e):
                session.damaged = True
        except StoreError:
            pass  # a damaged tile: the next transaction that reads it reports it
        self._session_done(session)

    def _session_done(self, session: _Session) -> None:
        if session.damaged:
            self._index_damaged = True

    # -- transactions --------------------------------------------------------------------------

    def reader(self) -> _Reading:
        return _Reading(self)

    @contextmanager
    def writer(self) -> Iterator[_Session]:
        if self.read_only:
            raise StoreError(f"{self.path}: this user cannot write the store (it was opened read-only)")
        if self._readers or self._writing:
            raise StoreError(f"{self.path}: a write cannot begin inside another transaction on this store")
        if self._index_damaged:
            self._repair_index()
        try:
            self._begin_writing()
        except sqlite3.Error as e:
            raise _store_error(self.path, e) from None
        session = _Session(self._db, writer=True)
        self._writing = True
        committing = False
        try:
            yield session
            committing = True
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            raise self._write_error(e, committing) from None
        except BaseException:
            self._rollback()
            raise
        finally:
            self._writing = False
            self._session_done(session)
        if session.index_from is not None:
            self._index_new_entries(session.index_from)

    def _begin_writing(self) -> None:
        """`BEGIN IMMEDIATE`, asked again every `_WRITE_POLL_S` while another process writes, up
        to the busy timeout. SQLite's own wait sleeps in steps of up to 100 ms: two server
        processes taking turns at the lock then waited a whole step for each other's commits."""
        deadline = time.monotonic() + _BUSY_TIMEOUT_S
        with self._not_waiting():
            while True:
                try:
                    self._db.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if not _error_name(e).startswith("SQLITE_BUSY") or time.monotonic() > deadline:
                        raise
                time.sleep(_WRITE_POLL_S)

    @contextmanager
    def _not_waiting(self) -> Iterator[None]:
        """The connection's statements fail at once, rather than wait, on a lock another holds."""
        self._db.execute("PRAGMA busy_timeout = 0")
        try:
            yield
        finally:
            self._db.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")

    def _write_error(self, e: sqlite3.Error, committing: bool) -> StoreError:
        """The StoreError for a write transaction that `e` ended, saying when nothing was written
        for certain: an error before COMMIT, or a COMMIT that could not write its pages. (One that
        wrote them and then failed, to sync say, may have committed: the write-ahead log holds
        the transaction whole, and the next opening recovers it.)"""
        error = _store_error(self.path, e)
        unwritten = _error_name(e) in ("SQLITE_FULL", "SQLITE_IOERR_WRITE") if committing else True
        if unwritten and _disk_full(self.path, e):
            return StoreError(f"{error}; nothing was written")
        return error

    def close(self) -> None:
        self._db.close()


class _Reading:
    """A read transaction on the store's connection, as `SqliteStore.reader()` gives it.

    A reader opened inside another shares its transaction, so it sees the same snapshot; the
    outermost one ends it. One inside a write transaction is refused: it would see data a
    rollback can still take back, and the caches of tiles and ranges that proofs keep across
    transactions would keep it. A class rather than a generator-based context manager: a proof
    opens one, and this costs about a microsecond less of the 15 a proof from memory takes."""

    __slots__ = ("_store",)

    def __init__(self, store: SqliteStore) -> None:
        self._store = store

    def __enter__(self) -> _Session:
        store = self._store
        if store._read is None:
            if store._writing:
                raise StoreError(f"{store.path}: a read cannot begin inside this store's write transaction")
            if store._index_damaged:
                store._repair_index()
            db = _ReadOnDemand(store._db)
            store._read = (db, _Session(db, store._tiles_read, indexed=not store.read_only))
        store._readers += 1
        return store._read[1]

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        store = self._store
        store._readers -= 1
        if not store._readers and store._read is not None:
            db, session = store._read
            store._read = None
            try:
                db.end()
            except sqlite3.Error as e:
                raise _store_error(store.path, e) from None
            finally:
                store._session_done(session)
            store.check_unchanged()
        if isinstance(error, sqlite3.Error):
            raise _store_error(store.path, error) from None
