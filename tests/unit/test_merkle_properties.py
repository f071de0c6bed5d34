"""Exhaustive and property-based tests of chainproof.log.merkle against the naive RFC 9162 definitions.

Proofs are generated the way the store generates them: `inclusion_nodes` / `consistency_nodes` name
complete subtrees and a border range, `perfect_nodes` breaks the border into complete subtrees,
whose hashes are read from tiles (`tiles.extend` and `tiles.node_hashes`, as the SQLite store
does), and `fold_range` folds them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainproof.log import merkle, tiles
from chainproof.log.merkle import Node, ProofError

from .rfc6962_naive import NaiveTree, path_ranges, proof_ranges, ranges_of

MAX_INCLUSION = 300
MAX_CONSISTENCY = 128

LEAVES = [b"leaf %d" % i for i in range(MAX_INCLUSION)]
NAIVE = NaiveTree(LEAVES)
LEAF_HASHES = [merkle.leaf_hash(d) for d in LEAVES]
SOME_HASH = bytes(range(32))


def _unread(key: tuple[int, int], width: int) -> tiles.TileRow:
    raise AssertionError(f"tile {key} is not {width} hashes wide")


class TileNodes:
    """Complete-subtree hashes read from encoded tiles, as `SQLiteStore.node_hashes` reads them."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        written = tiles.extend(0, {}, leaf_hashes)
        self.encoded = {t.id: (t.width, t.encode()) for t in written}

    def node(self, node: Node) -> bytes:
        [h] = tiles.node_hashes([node], self.encoded, _unread)
        return h

    def range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return [merkle.fold_range([self.node(n) for n in merkle.perfect_nodes(b, e)]) for b, e in ranges]

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.resolved(merkle.inclusion_nodes(index, size))

    def consistency(self, old: int, new: int) -> list[bytes]:
        return self.resolved(merkle.consistency_nodes(old, new))

    def root(self, size: int) -> bytes:
        return merkle.fold_range([self.node(n) for n in merkle.perfect_nodes(0, size)])

    def resolved(self, path: merkle.ProofNodes) -> list[bytes]:
        """A proof from its stored subtrees, as `TransparencyLog` builds it from `inclusion_nodes` /
        `consistency_nodes`: the border range folded and put in its place."""
        hashes = [self.node(Node(*n)) for n in path.nodes]
        if path.border is not None:
            hashes.insert(path.at, self.range_hashes([path.border])[0])
        return hashes


STORE = TileNodes(LEAF_HASHES)


def _flip_bit(h: bytes, bit: int) -> bytes:
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


# --- roots and range decomposition ------------------------------------------------------------


def test_roots_of_every_size_equal_the_naive_mth() -> None:
    for size in range(MAX_INCLUSION + 1):
        expected = NAIVE.root(size)
        assert merkle.root_of_leaf_hashes(LEAF_HASHES[:size]) == expected, size
        assert STORE.root(size) == expected, size


def test_leaf_and_node_hash_use_the_rfc_domain_separation() -> None:
    assert merkle.leaf_hash(b"x") == NaiveTree([b"x"]).root(1)
    left, right = LEAF_HASHES[0], LEAF_HASHES[1]
    assert merkle.node_hash(left, right) == NAIVE.mth(0, 2)
    assert merkle.node_hash(left, right) != merkle.node_hash(right, left)
    # An interior node is never a leaf hash of its children's concatenation.
    assert merkle.node_hash(left, right) != merkle.leaf_hash(left + right)


def test_perfect_nodes_tile_any_range_with_maximal_aligned_subtrees() -> None:
    for begin, end in itertools.combinations_with_replacement(range(130), 2):
        nodes = merkle.perfect_nodes(begin, end)
        position = begin
        for node in nodes:
            assert node.begin == position
            assert node.end <= end
            # Maximal: the next larger aligned subtree starting here would not fit or not be aligned.
            bigger = Node(node.level + 1, node.begin >> (node.level + 1))
            assert bigger.begin != node.begin or bigger.end > end
            position = node.end
        assert position == end
        assert merkle.perfect_nodes(begin, end) == nodes


def test_proof_ranges_decompose_into_strictly_decreasing_subtrees() -> None:
    """fold_range computes an MTH only for such ranges; every range of an RFC proof must be one."""
    ranges: set[tuple[int, int]] = set()
    for size in range(1, 130):
        for index in range(size):
            ranges.update(path_ranges(index, size))
        for old in range(1, size + 1):
            ranges.update(proof_ranges(old, size))
    for b, e in ranges:
        levels = [n.level for n in merkle.perfect_nodes(b, e)]
        assert levels == sorted(set(levels), reverse=True), (b, e)
        assert STORE.range_hashes([(b, e)]) == [NAIVE.mth(b, e)]


def test_fold_range_of_nothing_is_the_empty_root() -> None:
    assert merkle.fold_range([]) == merkle.EMPTY_ROOT == NAIVE.root(0)
    assert merkle.root_of_leaf_hashes([]) == merkle.EMPTY_ROOT


def test_consistency_nodes_are_empty_for_trivial_pairs() -> None:
    for old, new in ((0, 0), (0, 7), (7, 7)):
        assert merkle.consistency_nodes(old, new) == merkle.ProofNodes([], None, 0)


# --- exhaustive: every proof verifies and equals the naive one ----------------------------------


def test_every_inclusion_proof_up_to_300_leaves_equals_path_and_verifies() -> None:
    checked = 0
    for size in range(1, MAX_INCLUSION + 1):
        root = NAIVE.root(size)
        for index in range(size):
            proof = STORE.inclusion(index, size)
            assert proof == NAIVE.path(index, size), (index, size)
            merkle.verify_inclusion(index, size, LEAF_HASHES[index], proof, root)
            checked += 1
    assert checked == MAX_INCLUSION * (MAX_INCLUSION + 1) // 2


def test_every_consistency_proof_up_to_128_leaves_equals_subproof_and_verifies() -> None:
    checked = 0
    for new in range(1, MAX_CONSISTENCY + 1):
        new_root = NAIVE.root(new)
        for old in range(1, new + 1):
            proof = STORE.consistency(old, new)
            assert proof == NAIVE.proof(old, new), (old, new)
            merkle.verify_consistency(old, new, NAIVE.root(old), new_root, proof)
            checked += 1
    assert checked == MAX_CONSISTENCY * (MAX_CONSISTENCY + 1) // 2


def test_the_old_root_is_what_a_consistency_proof_folds_to() -> None:
    checked = 0
    for new in range(2, MAX_CONSISTENCY + 1):
        for old in range(1, new):
            path = merkle.consistency_nodes(old, new)
            proof = STORE.resolved(path)
            if old & (old - 1) == 0:
                with pytest.raises(ValueError, match="does not hold the old root"):
                    merkle.consistency_old_root(old, path, proof)
                continue
            assert merkle.consistency_old_root(old, path, proof) == NAIVE.root(old), (old, new)
            checked += 1
    assert checked > 7000


def test_the_old_root_of_a_consistency_proof_depends_on_each_left_hash_only() -> None:
    # From 11 to 14 the proof is [10, 11), then the path of that subtree: [11, 12), [8, 10), the
    # border [12, 14), [0, 8). The old root folds the first, [8, 10) and [0, 8).
    path = merkle.consistency_nodes(11, 14)
    proof = STORE.resolved(path)
    left = {i for i, (_, index) in enumerate(path.nodes) if index % 2 == 0}
    assert path == merkle.ProofNodes([(0, 10), (0, 11), (1, 4), (3, 0)], (12, 14), 3)
    assert left == {0, 2, 3}
    folded = {i if i < path.at else i + 1 for i in left}  # positions in the proof, past the border
    for i in range(len(proof)):
        changed = [*proof[:i], SOME_HASH, *proof[i + 1 :]]
        assert (merkle.consistency_old_root(11, path, changed) != NAIVE.root(11)) == (i in folded), i


@settings(max_examples=500)
@given(st.integers(1, 1 << 48), st.data())
def test_proof_nodes_name_the_ranges_of_the_rfc_proofs_at_any_size(size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    inclusion = merkle.inclusion_nodes(index, size)
    consistency = merkle.consistency_nodes(old, size)
    assert ranges_of(*inclusion) == path_ranges(index, size)
    assert ranges_of(*consistency) == proof_ranges(old, size)
    for path in (inclusion, consistency):
        assert all(Node(*n).end <= size for n in path.nodes)  # every node is a complete subtree
        if path.border is not None:  # the one range that the tree has not completed: its right end
            assert path.border[1] == size


@pytest.mark.parametrize(("index", "size"), [(0, 0), (3, 3), (-1, 5)])
def test_inclusion_nodes_reject_out_of_range(index: int, size: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        merkle.inclusion_nodes(index, size)


@pytest.mark.parametrize(("old", "new"), [(5, 4), (-1, 3)])
def test_consistency_nodes_reject_impossible_sizes(old: int, new: int) -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_nodes(old, new)


def test_the_empty_tree_is_consistent_with_every_tree() -> None:
    for new in range(MAX_CONSISTENCY + 1):
        merkle.verify_consistency(0, new, merkle.EMPTY_ROOT, NAIVE.root(new), [])
        with pytest.raises(ProofError):
            merkle.verify_consistency(0, new, merkle.EMPTY_ROOT, NAIVE.root(new), [SOME_HASH])


# --- tampering: wrong index, size, truncated or extended proofs ---------------------------------


def test_inclusion_proof_fails_at_every_other_index() -> None:
    for size in range(1, 41):
        root = NAIVE.root(size)
        for index in range(size):
            proof = NAIVE.path(index, size)
            for other in range(-1, size + 1):
                if other == index:
                    continue
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(other, size, LEAF_HASHES[index], proof, root)
                if 0 <= other < size:
                    # The other index's own leaf with this index's proof fails too.
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(other, size, LEAF_HASHES[other], proof, root)


def test_inclusion_proof_fails_for_another_tree_size() -> None:
    for size in range(1, 65):
        for index in range(size):
            proof = NAIVE.path(index, size)
            for other in {size - 1, size + 1, size * 2, size // 2, index} - {size}:
                # Against the true root of that size ...
                if 0 < other <= MAX_INCLUSION:
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(index, other, LEAF_HASHES[index], proof, NAIVE.root(other))
                # ... and, when the shape differs in depth, even against this tree's root.
                if not 0 <= index < other or len(path_ranges(index, other)) != len(proof):
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(index, other, LEAF_HASHES[index], proof, NAIVE.root(size))


def test_truncated_or_extended_inclusion_proofs_fail() -> None:
    """A proof of the wrong length is refused for its length, whatever hashes it holds."""
    for size in range(1, 65):
        root = NAIVE.root(size)
        for index in range(size):
            leaf, proof = LEAF_HASHES[index], NAIVE.path(index, size)
            longer = [[*proof, extra] for extra in (root, leaf, SOME_HASH)]
            longer += [[extra, *proof] for extra in (root, leaf, SOME_HASH)]
            shorter = []
            if proof:
                longer += [[*proof, proof[-1]], [proof[0], *proof]]
                shorter += [proof[:-1], proof[1:]]
            for bad in longer:
                with pytest.raises(ProofError, match="longer than the tree is deep"):
                    merkle.verify_inclusion(index, size, leaf, bad, root)
            for bad in shorter:
                with pytest.raises(ProofError, match="shorter than the tree is deep"):
                    merkle.verify_inclusion(index, size, leaf, bad, root)


def test_consistency_proof_fails_for_other_sizes() -> None:
    for new in range(2, 65):
        for old in range(1, new):
            proof = NAIVE.proof(old, new)
            old_root, new_root = NAIVE.root(old), NAIVE.root(new)
            for other in {old - 1, old + 1, old ^ 1, old ^ 2, new} - {old}:
                with pytest.raises(ProofError):
                    merkle.verify_consistency(other, new, NAIVE.root(other), new_root, proof)
            for other in {new - 1, new + 1, new * 2} - {new}:
                if other >= old:
                    with pytest.raises(ProofError):
                        merkle.verify_consistency(old, other, old_root, NAIVE.root(other), proof)
            with pytest.raises(ProofError):
                merkle.verify_consistency(new, old, new_root, old_root, proof)


def test_truncated_or_extended_consistency_proofs_fail() -> None:
    for new in range(2, 65):
        new_root = NAIVE.root(new)
        for old in range(1, new):
            old_root, proof = NAIVE.root(old), NAIVE.proof(old, new)
            longer = [[*proof, proof[-1]], [proof[0], *proof]]
            longer += [[*proof, extra] for extra in (old_root, new_root, SOME_HASH)]
            longer += [[extra, *proof] for extra in (old_root, new_root, SOME_HASH)]
            for bad in longer:
                with pytest.raises(ProofError, match="longer than the tree is deep"):
                    merkle.verify_consistency(old, new, old_root, new_root, bad)
            for bad in (proof[:-1], proof[1:]):
                with pytest.raises(ProofError, match=r"shorter than the tree is deep|proof is empty"):
                    merkle.verify_consistency(old, new, old_root, new_root, bad)


def test_wrong_length_hashes_are_rejected() -> None:
    leaf, root = LEAF_HASHES[0], NAIVE.root(2)
    proof = NAIVE.path(0, 2)
    for bad in (b"", leaf[:31], leaf + b"\x00"):
        with pytest.raises(ProofError, match="bytes long"):
            merkle.verify_inclusion(0, 2, bad, proof, root)
        with pytest.raises(ProofError, match="bytes long"):
            merkle.verify_inclusion(0, 2, leaf, [bad], root)
        with pytest.raises(ProofError, match="bytes long"):
            merkle.verify_inclusion(0, 2, leaf, proof, bad)
        with pytest.raises(ProofError, match="bytes long"):
            merkle.verify_consistency(1, 2, bad, root, [LEAF_HASHES[1]])
        with pytest.raises(ProofError, match="bytes long"):
            merkle.verify_consistency(1, 2, leaf, root, [bad])


# --- single bit flips ---------------------------------------------------------------------------


def test_every_single_bit_flip_breaks_small_proofs() -> None:
    """Exhaustive over the 8-leaf tree: every bit of every proof hash, of the leaf and of the root."""
    for size in range(1, 9):
        root = NAIVE.root(size)
        for index in range(size):
            leaf, proof = LEAF_HASHES[index], NAIVE.path(index, size)
            for bit in range(256):
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(index, size, _flip_bit(leaf, bit), proof, root)
                with pytest.raises(ProofError):
                    merkle.verify_inclusion(index, size, leaf, proof, _flip_bit(root, bit))
                for k in range(len(proof)):
                    bad = list(proof)
                    bad[k] = _flip_bit(bad[k], bit)
                    with pytest.raises(ProofError):
                        merkle.verify_inclusion(index, size, leaf, bad, root)


@st.composite
def inclusion_cases(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, MAX_INCLUSION))
    return draw(st.integers(0, size - 1)), size


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[int, int]:
    new = draw(st.integers(1, MAX_CONSISTENCY))
    return draw(st.integers(1, new)), new


@settings(max_examples=400, deadline=None)
@given(case=inclusion_cases(), target=st.integers(min_value=0), bit=st.integers(0, 255))
def test_a_flipped_bit_in_an_inclusion_proof_leaf_or_root_fails(
    case: tuple[int, int], target: int, bit: int
) -> None:
    index, size = case
    leaf, proof, root = LEAF_HASHES[index], STORE.inclusion(index, size), NAIVE.root(size)
    merkle.verify_inclusion(index, size, leaf, proof, root)
    slot = target % (len(proof) + 2)  # a proof hash, the leaf, or the root
    if slot < len(proof):
        proof = [*proof[:slot], _flip_bit(proof[slot], bit), *proof[slot + 1 :]]
    elif slot == len(proof):
        leaf = _flip_bit(leaf, bit)
    else:
        root = _flip_bit(root, bit)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(index, size, leaf, proof, root)


@settings(max_examples=400, deadline=None)
@given(case=consistency_cases(), target=st.integers(min_value=0), bit=st.integers(0, 255))
def test_a_flipped_bit_in_a_consistency_proof_or_either_root_fails(
    case: tuple[int, int], target: int, bit: int
) -> None:
    old, new = case
    old_root, new_root, proof = NAIVE.root(old), NAIVE.root(new), STORE.consistency(old, new)
    merkle.verify_consistency(old, new, old_root, new_root, proof)
    slot = target % (len(proof) + 2)  # a proof hash, the old root, or the new root
    if slot < len(proof):
        proof = [*proof[:slot], _flip_bit(proof[slot], bit), *proof[slot + 1 :]]
    elif slot == len(proof):
        old_root = _flip_bit(old_root, bit)
    else:
        new_root = _flip_bit(new_root, bit)
    with pytest.raises(ProofError):
        merkle.verify_consistency(old, new, old_root, new_root, proof)


@settings(max_examples=200, deadline=None)
@given(case=inclusion_cases(), data=st.data())
def test_any_other_proof_of_the_right_length_fails(case: tuple[int, int], data: st.DataObject) -> None:
    """Random hashes in place of the proof never verify (bar a SHA-256 collision)."""
    index, size = case
    proof = NAIVE.path(index, size)
    fake = data.draw(st.lists(st.binary(min_size=32, max_size=32), min_size=len(proof), max_size=len(proof)))
    if fake != proof:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(index, size, LEAF_HASHES[index], fake, NAIVE.root(size))
