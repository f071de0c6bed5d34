"""A store in memory, for tests and for embedding a log that need not outlive its process.

It keeps the LogStore contract as the SQLite store does. A reader sees one snapshot, taken when it
begins: nothing a later writer adds. One writer at a time holds the write lock (a second one, from
another thread, waits for it); what a writer did becomes visible at once when its block exits
without an error, and is dropped when it raises. Inside a transaction of this store, in the same
thread, a reader shares the open reader's snapshot, and a reader inside a writer, or a writer
inside any transaction, is refused with a StoreError: as in SQLite, where one connection holds one
transaction at a time, they would otherwise see, or wait for, themselves.

A committed state is never changed, only replaced. Entries and the leaf index are shared by every
state and only ever grow, so a state owns the first `size` entries and the index rows below
`size`, and a commit adds to them without copying them. The other maps (tiles, checkpoints, keys,
metadata) are copied by the first write to them in a transaction: a commit costs a copy of each
map it changed, which suits tests and logs of some thousands of appends, not millions.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from chainproof.errors import StoreError
from chainproof.log import tiles as tl
from chainproof.log.store import KeyRecord
from chainproof.log.tiles import Tile, TileId, TileRow

_CHUNK = 1024  # entries per list from `entry_chunks`
_WAIT_S = 60.0  # how long a writer waits for another one, as the SQLite store's busy timeout

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _State:
    """One committed state of the store (see the module's doc for what is shared)."""

    size: int = 0
    entries: list[bytes] = field(default_factory=list)
    leaf_index: dict[bytes, int] = field(default_factory=dict)
    tiles: Mapping[tuple[int, int], TileRow] = field(default_factory=dict)  # by (level, index)
    checkpoints: Mapping[int, str] = field(default_factory=dict)
    keys: Mapping[str, KeyRecord] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)


class _CopyOnWrite(Generic[K, V]):
    """A committed map, and this transaction's copy of it once it wrote to it."""

    def __init__(self, shared: Mapping[K, V]) -> None:
        self.view = shared
        self._own: dict[K, V] | None = None

    def own(self) -> dict[K, V]:
        if self._own is None:
            self._own = dict(self.view)
            self.view = self._own
        return self._own


class _Session:
    """One transaction's view: a reader's state, or a writer's state plus its own changes."""

    def __init__(self, state: _State) -> None:
        self._base = state
        self._new: list[bytes] = []  # entries appended in this transaction
        self._new_index: dict[bytes, int] = {}
        self._tiles = _CopyOnWrite(state.tiles)
        self._checkpoints = _CopyOnWrite(state.checkpoints)
        self._keys = _CopyOnWrite(state.keys)
        self._meta = _CopyOnWrite(state.meta)

    # -- reading -----------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        return self._meta.view.get(key)

    def size(self) -> int:
        return self._base.size + len(self._new)

    def entry(self, index: int) -> bytes:
        base = self._base.size
        if 0 <= index < base:
            return self._base.entries[index]
        if 0 <= index - base < len(self._new):
            return self._new[index - base]
        raise StoreError(f"entry {index} is missing from the store")

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        for chunk in self.entry_chunks(start, end):
            yield from chunk

    def entry_chunks(self, start: int, end: int) -> Iterator[list[bytes]]:
        for first in range(start, end, _CHUNK):
            yield [self.entry(index) for index in range(first, min(first + _CHUNK, end))]

    def _committed_index(self, leaf_hash: bytes) -> int | None:
        """The leaf's index in this state; rows at `size` or past it belong to later states."""
        index = self._base.leaf_index.get(leaf_hash)
        return index if index is not None and index < self._base.size else None

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        found: dict[bytes, int] = {}
        for h in leaf_hashes:
            index = self._committed_index(h)
            if index is None:
                index = self._new_index.get(h)
            if index is not None:
                found[h] = index
        return found

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, Tile]:
        found: dict[TileId, Tile] = {}
        for tid in ids:
            row = self._tiles.view.get(tid)
            if row is not None:
                found[tid] = Tile(tid, tl.base_of(row[1], row[0]))
        return found

    def node_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        return tl.node_hashes(nodes, self._tiles.view, self._tile_covering)

    def _tile_covering(self, key: tuple[int, int], width: int) -> TileRow:
        """What `node_hashes` asks for when a tile is missing or too narrow: there is no more."""
        if key not in self._tiles.view:
            raise StoreError(f"tile {key[0]}/{key[1]} is missing from the store")
        raise StoreError(f"tile {key[0]}/{key[1]} is shorter than the tree")

    def tile_level(self, level: int) -> Iterator[tuple[int, int, bytes]]:
        found = [
            (index, width, hashes)
            for (row_level, index), (width, hashes) in self._tiles.view.items()
            if row_level == level
        ]
        yield from sorted(found)

    def checkpoint(self, size: int | None = None) -> str | None:
        notes = self._checkpoints.view
        if size is None:
            size = max(notes, default=None)
        return None if size is None else notes.get(size)

    def checkpoints(self) -> Iterator[tuple[int, str]]:
        yield from sorted(self._checkpoints.view.items())

    def key(self, keyid: str) -> KeyRecord | None:
        return self._keys.view.get(keyid)

    def keys(self) -> list[KeyRecord]:
        return sorted(self._keys.view.values(), key=lambda record: record.registered_at)

    # -- writing (only a writer's session is handed out as a LogWriter) ---------------------

    def set_meta(self, key: str, value: str) -> None:
        self._meta.own()[key] = value

    def append(self, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes], tiles: Sequence[Tile]) -> int:
        if len(leaves) != len(leaf_hashes):
            raise ValueError("one leaf hash per leaf")
        first = self.size()
        self._new += leaves
        for offset, h in enumerate(leaf_hashes):
            if self._committed_index(h) is None:  # a leaf's first index is the one found
                self._new_index.setdefault(h, first + offset)
        own = self._tiles.own()
        for tile in tiles:
            own[tile.id] = (tile.width, tile.encode())
        return first

    def put_key(self, record: KeyRecord) -> None:
        self._keys.own()[record.keyid] = record

    def add_checkpoint(self, size: int, note: str) -> None:
        self._checkpoints.own()[size] = note

    def committed(self) -> _State:
        """The state this writer leaves, its entries and index rows added to the shared ones: the
        caller holds the write lock, so nobody else adds to them meanwhile."""
        base = self._base
        del base.entries[base.size :]  # what a commit interrupted halfway added belongs to no state
        base.entries.extend(self._new)
        index = base.leaf_index
        for h, position in self._new_index.items():
            if index.get(h, base.size) >= base.size:  # absent, or left by an interrupted commit
                index[h] = position
        return replace(
            base,
            size=self.size(),
            tiles=self._tiles.view,
            checkpoints=self._checkpoints.view,
            keys=self._keys.view,
            meta=self._meta.view,
        )


class _Thread(threading.local):
    """What one thread has open on the store: its reader (shared by nested readers), or a writer."""

    def __init__(self) -> None:
        self.read: _Session | None = None
        self.readers = 0
        self.writing = False


class MemoryStore:
    """A LogStore held in memory (see the module's doc): `MemoryStore()` starts empty."""

    def __init__(self) -> None:
        self._state = _State()
        self._write_lock = threading.Lock()
        self._thread = _Thread()
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the in-memory store is closed")

    @contextmanager
    def reader(self) -> Iterator[_Session]:
        self._check_open()
        mine = self._thread
        if mine.writing:
            raise StoreError("in-memory store: a read cannot begin inside this store's write transaction")
        if mine.read is None:
            mine.read = _Session(self._state)
        mine.readers += 1
        try:
            yield mine.read
        finally:
            mine.readers -= 1
            if not mine.readers:
                mine.read = None

    @contextmanager
    def writer(self) -> Iterator[_Session]:
        self._check_open()
        mine = self._thread
        if mine.writing or mine.readers:
            raise StoreError("in-memory store: a write cannot begin inside another transaction on this store")
        if not self._write_lock.acquire(timeout=_WAIT_S):
            raise StoreError(f"in-memory store: another writer held the store for over {_WAIT_S:.0f} s")
        mine.writing = True
        try:
            session = _Session(self._state)
            yield session
            self._state = session.committed()
        finally:
            mine.writing = False
            self._write_lock.release()

    def close(self) -> None:
        """Refuse every later transaction; what the store held goes with the object."""
        self._closed = True
