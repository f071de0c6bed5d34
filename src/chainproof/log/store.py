"""The storage interface of the custody log.

A store keeps five things and nothing else: the entries (leaf bytes, by index; the SQLite store
keeps them in bundles of 256, see `bundles`), the tiles of the Merkle tree (see `tiles`), every
checkpoint issued, the key registry index, and a few metadata values. It knows no signatures and
no rules: `custody.TransparencyLog` decides what is written.

Readers see a consistent snapshot; one writer at a time holds the write lock, and everything a
writer did becomes visible (durably, in a store on disk) at once when its context exits without an
error, or not at all. Three implementations: `sqlite.SqliteStore` (embedded, the CLI's),
`memory.MemoryStore` (tests and embedding) and `postgres.PostgresStore` (several logs in one
database, shared by several processes).

The tree math is not the store's: `append_leaves` computes the tiles an append creates or changes
(from the edge tiles the writer reads back) and hands them to `LogWriter.append` with the leaves, so
a store only keeps bytes, and every store holds the very same tiles.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from chainproof.errors import UsageError
from chainproof.log import tiles as tl
from chainproof.log.tiles import Tile, TileId

FORMAT = "chainproof-log/2"


class KeyRole(enum.StrEnum):
    """What a registered key may do: the admin key manages the registry; actor keys sign entries."""

    ADMIN = "admin"
    ACTOR = "actor"


@dataclass(frozen=True)
class KeyRecord:
    """A key of the log's registry, as its registration and revocation entries made it."""

    keyid: str
    name: str
    public_key: bytes
    role: KeyRole
    registered_at: int
    revoked_from: int | None = None
    revoked_at: int | None = None

    def valid_at(self, index: int) -> bool:
        """Whether an entry at `index` may carry this key's signature."""
        after_registration = index > self.registered_at or (self.role is KeyRole.ADMIN and index == 0)
        return after_registration and (self.revoked_from is None or index < self.revoked_from)


class LogReader(Protocol):
    def meta(self, key: str) -> str | None:
        """A metadata value: `format`, `origin`, `checkpoint_vkey`, `admin_keyid`."""

    def size(self) -> int:
        """The number of entries: the size of the committed tree."""

    def entry(self, index: int) -> bytes:
        """The leaf bytes at `index` (the caller checks the range)."""

    def entries(self, start: int, end: int) -> Iterator[bytes]:
        """Leaf bytes for indexes [start, end), in order, streamed."""

    def entry_chunks(self, start: int, end: int) -> Iterator[list[bytes]]:
        """The same leaves in consecutive lists: a whole-log pass pays per list, not per entry."""

    def find_leaves(self, leaf_hashes: Sequence[bytes]) -> dict[bytes, int]:
        """The index of each given leaf hash that the log holds."""

    def tiles(self, ids: Sequence[TileId]) -> dict[TileId, Tile]:
        """The requested tiles that exist."""

    def node_hashes(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        """Hashes of complete subtrees, given as (level, index) like `Node`, reading each tile that
        holds one of them once."""

    def tile_level(self, level: int) -> Iterator[tuple[int, int, bytes]]:
        """Every stored tile of one tile level as (index, width, encoded bytes), in index order."""

    def checkpoint(self, size: int | None = None) -> str | None:
        """The signed checkpoint note issued at `size` (default: the latest)."""

    def checkpoints(self) -> Iterator[tuple[int, str]]:
        """Every checkpoint issued, oldest first."""

    def key(self, keyid: str) -> KeyRecord | None: ...

    def keys(self) -> list[KeyRecord]: ...


class LogWriter(LogReader, Protocol):
    def set_meta(self, key: str, value: str) -> None: ...

    def append(self, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes], tiles: Sequence[Tile]) -> int:
        """Add entries at the end, write `tiles` (every tile the append creates or changes, each
        replacing any stored tile of its id) and keep the leaf index (the SQLite store: once this
        transaction has looked leaves up); return the first new index. The store computes nothing:
        call it through `append_leaves`, which computes the tiles."""

    def put_key(self, record: KeyRecord) -> None:
        """Insert or replace a key registry record."""

    def add_checkpoint(self, size: int, note: str) -> None: ...


class LogStore(Protocol):
    def reader(self) -> AbstractContextManager[LogReader]:
        """A read transaction: one snapshot. A reader opened inside another shares its snapshot;
        one opened inside a writer is refused (StoreError)."""
        ...

    def writer(self) -> AbstractContextManager[LogWriter]:
        """The write transaction: one at a time, committed when the block ends without error.
        Refused (StoreError) inside another transaction of the same store."""
        ...

    def close(self) -> None: ...


def append_leaves(
    writer: LogWriter, leaves: Sequence[bytes], leaf_hashes: Sequence[bytes], *, size: int | None = None
) -> int:
    """Append `leaves` through `writer`, with the tiles that the append creates or changes; return
    the first new index. `size` is the writer's size when the caller has just read it (one query
    less).

    The tiles come from the edge tiles of the current tree (`tiles.edge`), read back from the
    writer, extended with the new leaf hashes (`tiles.extend`): a read of at most one tile per
    level, and no work per entry beyond hashing the tiles' levels.
    """
    if len(leaves) != len(leaf_hashes):
        raise ValueError("one leaf hash per leaf")
    first = writer.size() if size is None else size
    written = tl.extend(first, writer.tiles(tl.edge(first)), leaf_hashes)
    return writer.append(leaves, leaf_hashes, written)


def find_key(records: Sequence[KeyRecord], name_or_keyid: str) -> KeyRecord:
    """The key a person names by keyid or by name: the one not revoked when several share a name.
    UsageError when none matches, or when the name is ambiguous."""
    matches = [k for k in records if name_or_keyid in (k.keyid, k.name)]
    active = [k for k in matches if k.revoked_at is None]
    if len(active) == 1 or len(matches) == 1:
        return (active or matches)[0]
    if not matches:
        raise UsageError(f"no key named or with keyid {name_or_keyid!r} in this log")
    raise UsageError(f"{len(matches)} keys are named {name_or_keyid!r}; give a keyid")
