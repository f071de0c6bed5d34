"""Tests of chainproof.log.tiles: tile layout, encoding, and incremental extension."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.log import merkle, tiles
from chainproof.log.merkle import HASH_SIZE, Node
from chainproof.log.tiles import HEIGHT, WIDTH, Tile, TileId

from .rfc6962_naive import NaiveTree

MAX_LEAVES = 3 * WIDTH + 100
LEAVES = [b"tile leaf %d" % i for i in range(MAX_LEAVES)]
NAIVE = NaiveTree(LEAVES)
LEAF_HASHES = [merkle.leaf_hash(d) for d in LEAVES]


def _unread(key: tuple[int, int], width: int) -> tiles.TileRow:
    raise ValueError(f"tile {key} is not at hand {width} hashes wide: the node is not complete in it")


def _node(encoded: dict[TileId, tiles.TileRow], node: Node) -> bytes:
    """One node's hash from encoded tiles, as the store reads it."""
    [h] = tiles.node_hashes([node], encoded, _unread)
    return h


def _complete_nodes(size: int) -> list[Node]:
    nodes = []
    level = 0
    while (1 << level) <= size:
        nodes += [Node(level, i) for i in range(size >> level)]
        level += 1
    return nodes


def _apply(store: dict[TileId, Tile], size: int, batch: Sequence[bytes]) -> list[Tile]:
    edge_tiles = {tid: store[tid] for tid in tiles.edge(size)}
    written = tiles.extend(size, edge_tiles, batch)
    for t in written:
        store[t.id] = t
    return written


def _check_store(store: dict[TileId, Tile], size: int) -> None:
    encoded = {tid: (t.width, t.encode()) for tid, t in store.items()}
    nodes = _complete_nodes(size)
    got = tiles.node_hashes(nodes, encoded, _unread)
    assert got == [NAIVE.mth(node.begin, node.end) for node in nodes]
    # Every tile has the width the tree size implies, and the edge tiles are exactly the partial ones.
    for tid, t in store.items():
        level_count = size >> (HEIGHT * tid.level)
        assert t.width == min(WIDTH, level_count - tid.index * WIDTH), tid
    partial = sorted((t.id for t in store.values() if t.width < WIDTH), key=lambda i: i.level)
    assert partial == tiles.edge(size)


@settings(max_examples=60, deadline=None)
@given(batches=st.lists(st.integers(1, 2 * WIDTH + 3), min_size=1, max_size=8))
def test_extend_in_random_batches_gives_the_naive_subtree_hashes(batches: list[int]) -> None:
    store: dict[TileId, Tile] = {}
    size = 0
    for batch in batches:
        n = min(batch, MAX_LEAVES - size)
        if n == 0:
            break
        written = _apply(store, size, LEAF_HASHES[size : size + n])
        # Each tile is written once, and only from the old right edge onward: full tiles are final.
        assert len({t.id for t in written}) == len(written)
        for t in written:
            assert t.id.index >= (size >> (HEIGHT * t.id.level)) // WIDTH, t.id
        size += n
        _check_store(store, size)
    # The root is recoverable from the stored complete subtrees, as custody.root_at does.
    encoded = {tid: (t.width, t.encode()) for tid, t in store.items()}
    hashes = tiles.node_hashes(merkle.perfect_nodes(0, size), encoded, _unread)
    assert merkle.fold_range(hashes) == NAIVE.root(size)
    # Building all at once gives the same tiles as building in batches.
    one_shot = {t.id: t for t in tiles.extend(0, {}, LEAF_HASHES[:size])}
    assert {tid: t.base for tid, t in one_shot.items()} == {tid: t.base for tid, t in store.items()}


def test_extend_across_a_full_tile_feeds_the_level_above() -> None:
    store: dict[TileId, Tile] = {}
    _apply(store, 0, LEAF_HASHES[:250])
    written = _apply(store, 250, LEAF_HASHES[250:260])
    assert [(t.id, t.width) for t in written] == [
        (TileId(0, 0), 256),
        (TileId(0, 1), 4),
        (TileId(1, 0), 1),
    ]
    assert store[TileId(1, 0)].base == (NAIVE.mth(0, 256),)
    assert store[TileId(0, 0)].root() == NAIVE.mth(0, 256)


def test_extend_rejects_a_missing_or_wrong_edge_tile() -> None:
    store: dict[TileId, Tile] = {}
    _apply(store, 0, LEAF_HASHES[:10])
    with pytest.raises(ValueError, match="edge tile at level 0"):
        tiles.extend(10, {}, LEAF_HASHES[10:12])
    short = Tile(TileId(0, 0), store[TileId(0, 0)].base[:9])
    with pytest.raises(ValueError, match="wrong width"):
        tiles.extend(10, {TileId(0, 0): short}, LEAF_HASHES[10:12])


def test_extend_with_nothing_writes_nothing() -> None:
    assert tiles.extend(0, {}, []) == []
    assert tiles.extend(300, {}, []) == []


@pytest.mark.parametrize("width", [1, 2, 3, 7, 128, 255, 256])
def test_encode_layout_and_base_round_trip(width: int) -> None:
    t = Tile(TileId(0, 0), tuple(LEAF_HASHES[:width]))
    encoded = t.encode()
    # Levels 0..7, each with every complete node of the tile, bottom up.
    assert len(encoded) == HASH_SIZE * sum(width >> r for r in range(HEIGHT))
    assert len(encoded) == tiles.level_offset(width, HEIGHT)
    assert tiles.base_of(encoded, width) == t.base
    at_hand = {t.id: (width, encoded)}
    for r in range(HEIGHT):
        for position in range(width >> r):
            got = _node(at_hand, Node(r, position))
            assert got == NAIVE.mth(position << r, (position + 1) << r)
        # The first incomplete node of the level is not taken from this tile.
        with pytest.raises(ValueError, match="not complete"):
            _node(at_hand, Node(r, width >> r))


def test_full_tile_root_and_partial_tile_refusal() -> None:
    full = Tile(TileId(0, 1), tuple(LEAF_HASHES[WIDTH : 2 * WIDTH]))
    assert full.root() == NAIVE.mth(WIDTH, 2 * WIDTH)
    # The root is not part of the encoding: the parent tile stores it.
    assert full.root() not in tiles.base_of(full.encode(), WIDTH)
    with pytest.raises(ValueError, match="full tile"):
        Tile(TileId(0, 0), tuple(LEAF_HASHES[:255])).root()


def test_level_offsets() -> None:
    assert tiles.level_offset(256, 0) == 0
    assert tiles.level_offset(256, 1) == 256 * HASH_SIZE
    assert tiles.level_offset(256, 2) == (256 + 128) * HASH_SIZE
    assert tiles.level_offset(5, 3) == (5 + 2 + 1) * HASH_SIZE


def _where(node: Node) -> tuple[TileId, int, int]:
    """The tile, in-tile level and position `tiles.node_hashes` takes `node` from: it is asked for
    the tile, and the slot it slices out of a tile whose every slot holds its own number shows
    the offset."""
    asked: list[tuple[tuple[int, int], int]] = []

    def read(key: tuple[int, int], width: int) -> tiles.TileRow:
        asked.append((key, width))
        return WIDTH, b"".join(slot.to_bytes(HASH_SIZE, "big") for slot in range(2 * WIDTH))

    [h] = tiles.node_hashes([node], {}, read)
    [(key, width)] = asked
    slot = int.from_bytes(h, "big")
    r = max(lv for lv in range(HEIGHT) if tiles.level_offset(WIDTH, lv) <= slot * HASH_SIZE)
    position = slot - tiles.level_offset(WIDTH, r) // HASH_SIZE
    assert width == (position + 1) << r  # it asks for the tile just wide enough to hold the node
    return TileId(*key), r, position


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (Node(0, 0), (TileId(0, 0), 0, 0)),
        (Node(0, 255), (TileId(0, 0), 0, 255)),
        (Node(0, 256), (TileId(0, 1), 0, 0)),
        (Node(3, 33), (TileId(0, 1), 3, 1)),
        (Node(7, 5), (TileId(0, 2), 7, 1)),
        (Node(8, 0), (TileId(1, 0), 0, 0)),
        (Node(8, 257), (TileId(1, 1), 0, 1)),
        (Node(9, 200), (TileId(1, 1), 1, 72)),
        (Node(16, 3), (TileId(2, 0), 0, 3)),
    ],
)
def test_a_node_is_read_from_its_tile_level_and_position(
    node: Node, expected: tuple[TileId, int, int]
) -> None:
    assert _where(node) == expected


@given(level=st.integers(0, 30), index=st.integers(0, 2**40))
def test_every_node_has_one_place(level: int, index: int) -> None:
    tid, r, position = _where(Node(level, index))
    assert tid.level * HEIGHT + r == level
    assert 0 <= r < HEIGHT
    assert 0 <= position < WIDTH >> r
    assert (tid.index << (HEIGHT - r)) + position == index


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, []),
        (1, [TileId(0, 0)]),
        (255, [TileId(0, 0)]),
        (256, [TileId(1, 0)]),
        (257, [TileId(0, 1), TileId(1, 0)]),
        (512, [TileId(1, 0)]),
        (65536, [TileId(2, 0)]),
        (65536 + 256, [TileId(1, 1), TileId(2, 0)]),
        (65536 + 257, [TileId(0, 257), TileId(1, 1), TileId(2, 0)]),
        (256**3, [TileId(3, 0)]),
    ],
)
def test_edge(size: int, expected: list[TileId]) -> None:
    assert tiles.edge(size) == expected


@given(size=st.integers(0, 2**48))
def test_edge_names_one_partial_tile_per_level_with_a_remainder(size: int) -> None:
    ids = tiles.edge(size)
    assert [t.level for t in ids] == sorted({t.level for t in ids})
    for tid in ids:
        count = size >> (HEIGHT * tid.level)
        assert count % WIDTH != 0
        assert tid.index == count // WIDTH
    levels_with_remainder = {level for level in range(8) if (size >> (HEIGHT * level)) % WIDTH != 0}
    assert {t.level for t in ids} == levels_with_remainder


def test_chunk_tiles_matches_extend_for_one_level() -> None:
    chunks = list(tiles.chunk_tiles(0, LEAF_HASHES[:600]))
    assert [(t.id, t.width) for t in chunks] == [(TileId(0, 0), 256), (TileId(0, 1), 256), (TileId(0, 2), 88)]
    built = {t.id: t for t in tiles.extend(0, {}, LEAF_HASHES[:600]) if t.id.level == 0}
    assert {t.id: t.base for t in chunks} == {tid: t.base for tid, t in built.items()}
    assert list(tiles.chunk_tiles(1, [])) == []


def test_a_full_level_one_tile_feeds_tile_level_two() -> None:
    size = WIDTH * WIDTH + 300
    leaves = [b"%d" % i for i in range(size)]
    naive = NaiveTree(leaves)
    hashes = [merkle.leaf_hash(d) for d in leaves]
    store: dict[TileId, Tile] = {}
    _apply(store, 0, hashes[: WIDTH * WIDTH - 5])
    assert tiles.edge(WIDTH * WIDTH - 5) == [TileId(0, 255), TileId(1, 0)]
    written = _apply(store, WIDTH * WIDTH - 5, hashes[WIDTH * WIDTH - 5 :])
    assert {t.id for t in written} == {
        TileId(0, 255),
        TileId(0, 256),
        TileId(0, 257),
        TileId(1, 0),
        TileId(1, 1),
        TileId(2, 0),
    }
    assert store[TileId(1, 0)].width == WIDTH
    assert store[TileId(2, 0)].base == (naive.root(WIDTH * WIDTH),)
    assert tiles.edge(size) == [TileId(0, 257), TileId(1, 1), TileId(2, 0)]
    encoded = {tid: (t.width, t.encode()) for tid, t in store.items()}
    for node in (Node(16, 0), Node(15, 1), Node(8, 255), Node(8, 256), Node(0, size - 1)):
        assert _node(encoded, node) == naive.mth(node.begin, node.end)
    root_nodes = merkle.perfect_nodes(0, size)
    assert [n.level for n in root_nodes] == [16, 8, 5, 3, 2]
    assert merkle.fold_range(tiles.node_hashes(root_nodes, encoded, _unread)) == naive.root(size)
