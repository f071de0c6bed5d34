"""How the Merkle tree is laid out in storage: tiles of height 8, as in C2SP tlog-tiles.

A tile at tile level L, index k, covers the nodes of tree height 8L with indices 256k to 256k+255:
its *base*. A tile stores its base hashes and every complete node of the seven levels above them
(levels 8L+1 to 8L+7), so any complete subtree's hash is one tile read and a slice, and a proof at
ten million entries reads three tiles per path. The root of a full tile is the base hash of its
parent tile. Only the rightmost tile of each level is ever partial, and only it is rewritten.

Pure functions: the store decides where the bytes live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import NamedTuple

from chainproof.log.merkle import HASH_SIZE, parent_hashes

HEIGHT = 8
WIDTH = 1 << HEIGHT
MAX_LEVELS = 8
"""Tile levels a log can have: eight levels of 256-wide tiles cover 2**64 entries."""


class TileId(NamedTuple):
    level: int
    index: int  # type: ignore[assignment]  # (shadows tuple.index, which nothing calls on it)


@dataclass(frozen=True)
class Tile:
    """A tile's base hashes; `levels()` derives the rest."""

    id: TileId
    base: tuple[bytes, ...]

    @property
    def width(self) -> int:
        return len(self.base)

    @cached_property
    def _levels(self) -> list[list[bytes]]:
        levels = [list(self.base)]
        for _ in range(HEIGHT):
            below = levels[-1]
            levels.append(parent_hashes(below[: len(below) & ~1]))
        return levels

    def encode(self) -> bytes:
        """The stored form: every complete level of the tile below its root, bottom up."""
        return b"".join(b"".join(level) for level in self._levels[:HEIGHT])

    def root(self) -> bytes:
        """The hash of a full tile: the base hash of its parent."""
        if self.width != WIDTH:
            raise ValueError("only a full tile has a root")
        return self._levels[HEIGHT][0]


@cache
def level_offset(width: int, r: int) -> int:
    """Byte offset of in-tile level r inside an encoded tile of `width` base hashes."""
    return HASH_SIZE * sum(width >> j for j in range(r))


_FULL_OFFSETS = [level_offset(WIDTH, r) for r in range(HEIGHT)]
# Where tree level L lies in the tiles: tile level, in-tile level r, and the shift and mask that
# split a node index into tile index and position. A table: `node_hashes` needs them per node.
_PLACES = [
    (level // HEIGHT, level % HEIGHT, HEIGHT - level % HEIGHT, (1 << (HEIGHT - level % HEIGHT)) - 1)
    for level in range(HEIGHT * MAX_LEVELS)
]


def base_of(encoded: bytes, width: int) -> tuple[bytes, ...]:
    return tuple([encoded[i : i + HASH_SIZE] for i in range(0, width * HASH_SIZE, HASH_SIZE)])


TileRow = tuple[int, bytes]
"""A stored tile as a store reads it: (width, encoded hashes)."""


def node_hashes(
    nodes: Iterable[tuple[int, int]],
    at_hand: Mapping[tuple[int, int], TileRow],
    read: Callable[[tuple[int, int], int], TileRow],
) -> list[bytes]:
    """The hashes of complete nodes, given as (level, index) like `Node`, sliced out of tiles.

    Node (level, index) lies in tile (level // 8, index >> (8 - r)) at in-tile level r = level % 8,
    position index % 2**(8 - r). `at_hand` holds tiles already read, by (tile level, tile index);
    a node whose tile is not there, or not wide enough to hold it, comes from `read(key, width)`,
    which returns that tile at least `width` base hashes wide. One loop with no call per node, and
    no lookup while the nodes stay in one tile: a proof resolves a score of them, a tile at a time.
    """
    out: list[bytes] = []
    tile_level = tile_index = -1
    width, encoded = 0, b""
    for level, index in nodes:
        in_level, r, shift, mask = _PLACES[level]
        position = index & mask
        need = (position + 1) << r  # base hashes the tile must hold
        if index >> shift != tile_index or in_level != tile_level or width < need:
            tile_level, tile_index = in_level, index >> shift
            key = (tile_level, tile_index)
            row = at_hand.get(key)
            if row is None or row[0] < need:
                row = read(key, need)
            width, encoded = row
        start = (_FULL_OFFSETS[r] if width == WIDTH else level_offset(width, r)) + position * HASH_SIZE
        out.append(encoded[start : start + HASH_SIZE])
    return out


def edge(size: int) -> list[TileId]:
    """The partial tiles on the right edge of a tree of `size` leaves, lowest level first."""
    ids: list[TileId] = []
    count, level = size, 0
    while count:
        if count % WIDTH:
            ids.append(TileId(level, count // WIDTH))
        count //= WIDTH
        level += 1
    return ids


def extend(size: int, edge_tiles: dict[TileId, Tile], leaf_hashes: Sequence[bytes]) -> list[Tile]:
    """The tiles to write when `leaf_hashes` are appended to a tree of `size` leaves.

    `edge_tiles` are the current partial tiles, as `edge(size)` names them. The result holds every
    new or changed tile; full tiles feed their roots into the level above.
    """
    written: list[Tile] = []
    count, level, new = size, 0, list(leaf_hashes)
    while new:
        first = TileId(level, count // WIDTH)
        partial = edge_tiles.get(first)
        have = count % WIDTH
        if have and (partial is None or partial.width != have):
            raise ValueError(f"the edge tile at level {level} is missing or has the wrong width")
        base = [*(partial.base if partial else ()), *new]
        parents: list[bytes] = []
        for start in range(0, len(base), WIDTH):
            tile = Tile(TileId(level, first.index + start // WIDTH), tuple(base[start : start + WIDTH]))
            written.append(tile)
            if tile.width == WIDTH:
                parents.append(tile.root())
        count //= WIDTH
        level += 1
        new = parents
    return written


def chunk_tiles(level: int, hashes: Iterable[bytes]) -> Iterable[Tile]:
    """Tiles of one level built from that level's base hashes in order (used by audit)."""
    batch: list[bytes] = []
    index = 0
    for h in hashes:
        batch.append(h)
        if len(batch) == WIDTH:
            yield Tile(TileId(level, index), tuple(batch))
            batch, index = [], index + 1
    if batch:
        yield Tile(TileId(level, index), tuple(batch))
