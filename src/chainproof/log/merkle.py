"""RFC 9162 section 2.1 Merkle tree math: hashing, proof planning and proof verification.

Pure functions over bytes and integers; nothing here reads storage. Proof *generation* is split in
two so that storage stays dumb: `inclusion_nodes` / `consistency_nodes` name the complete subtrees
(and at most one right border range) whose hashes make a proof, `perfect_nodes` breaks a range
into the complete subtrees a store keeps, and `fold_range` hashes those back into the range's
Merkle tree hash. The tests hold the planners against the RFC's recursive definitions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from chainproof.errors import VerificationError

HASH_SIZE = 32
SIZE_LIMIT = 1 << 64
"""Tree sizes and leaf indexes are 64-bit unsigned integers (RFC 9162, C2SP tlog-checkpoint)."""
SIZE_DIGITS = len(str(SIZE_LIMIT - 1))
_sha256 = hashlib.sha256


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not verify."""


# Hashers already fed their domain-separation byte: copying one costs less than starting afresh,
# and feeding the halves separately saves joining them (about 10% and 15% per hash in CPython).
_LEAF_PREFIX = _sha256(b"\x00")
_NODE_PREFIX = _sha256(b"\x01")


def leaf_hash(data: bytes) -> bytes:
    """MTH of a single entry: SHA-256(0x00 || data)."""
    h = _LEAF_PREFIX.copy()
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right)."""
    h = _NODE_PREFIX.copy()
    h.update(left)
    h.update(right)
    return h.digest()


def leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    """`leaf_hash` of each entry, in bulk."""
    start = _LEAF_PREFIX.copy
    out: list[bytes] = []
    for data in leaves:
        h = start()
        h.update(data)
        out.append(h.digest())
    return out


def parent_hashes(level: Sequence[bytes]) -> list[bytes]:
    """`node_hash` of each pair of an even-length level: the level above it."""
    if len(level) % 2:
        raise ValueError("a level of odd length has no level of pairs above it")
    start = _NODE_PREFIX.copy
    out: list[bytes] = []
    for i in range(0, len(level), 2):
        h = start()
        h.update(level[i])
        h.update(level[i + 1])
        out.append(h.digest())
    return out


EMPTY_ROOT = _sha256(b"").digest()


class Node(NamedTuple):
    """The root of a complete subtree: leaves [index * 2**level, (index + 1) * 2**level).

    A named tuple rather than a frozen dataclass: a proof names dozens of nodes, and a tuple costs
    about half as much to build and to hash."""

    level: int
    index: int  # type: ignore[assignment]  # (shadows tuple.index, which nothing calls on it)

    @property
    def begin(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level


def perfect_nodes(begin: int, end: int) -> list[Node]:
    """Decompose leaves [begin, end) into complete subtrees, left to right, largest first.

    For every range that appears in a Merkle tree of RFC 9162 (a subtree, or the right border of
    one) the decomposition has strictly decreasing sizes, so `fold_range` gives its MTH.
    """
    width = end - begin
    if width > 0 and width & (width - 1) == 0 and begin & (width - 1) == 0:
        level = width.bit_length() - 1  # one complete subtree, as most ranges of a proof are
        return [Node(level, begin >> level)]
    nodes: list[Node] = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append(Node(level, begin >> level))
        begin += 1 << level
    return nodes


def fold_range(hashes: Sequence[bytes]) -> bytes:
    """MTH of a range from the hashes of its `perfect_nodes`, folding from the right."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_of_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, level by level in O(n) time and O(n) memory."""
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    # Fold complete pairs upward, carrying an odd last node up unchanged: RFC 9162's split at the
    # largest power of two gives exactly this shape.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class ProofNodes(NamedTuple):
    """A proof's hashes as stored subtrees, in proof order: each of `nodes` is a complete subtree,
    and the hash of leaf range `border`, if any, belongs at position `at`: the range that holds the
    tree's last leaf, where the tree has not completed the subtree the proof passes."""

    nodes: list[tuple[int, int]]  # (level, index), as in a Node: plain tuples are quicker to build
    border: tuple[int, int] | None
    at: int


def _path_nodes(index: int, level: int, size: int) -> ProofNodes:
    """The audit path of complete node (level, index) in a tree of `size` leaves, bottom up.

    Let `last` be the node at this level that holds the tree's last leaf. Below the highest bit
    where `index` and `last` differ, every sibling lies inside one complete subtree left of `last`;
    at that bit the sibling is the subtree holding `last`, complete or a right border; above it,
    where `index` has a 1 its left sibling is complete, and where it has a 0 the tree has no sibling.
    The path RFC 9162's recursive PATH gives, found with bit arithmetic instead of splits.
    """
    last = (size - 1) >> level
    inner = (index ^ last).bit_length()
    nodes = [(level + k, (index >> k) ^ 1) for k in range(inner - 1)]
    border: tuple[int, int] | None = None
    if inner:
        k = level + inner - 1
        sibling = (index >> (inner - 1)) ^ 1
        if (sibling + 1) << k <= size:
            nodes.append((k, sibling))
        else:
            border = (sibling << k, size)
    at = len(nodes)
    nodes += [(level + k, (index >> k) ^ 1) for k in range(inner, last.bit_length()) if index >> k & 1]
    return ProofNodes(nodes, border, at)


def inclusion_nodes(index: int, size: int) -> ProofNodes:
    """PATH(index, D[size]) (RFC 9162 2.1.3.1) as stored subtrees, leaf end first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    return _path_nodes(index, 0, size)


def consistency_nodes(old_size: int, new_size: int) -> ProofNodes:
    """PROOF(old_size, D[new_size]) (RFC 9162 2.1.4.1) as stored subtrees.

    The proof is the path, in the new tree, of the last complete subtree of the old one, preceded
    by that subtree unless it is the whole old tree (a power of two, whose root the verifier holds).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return ProofNodes([], None, 0)
    level = (old_size & -old_size).bit_length() - 1
    index = (old_size - 1) >> level
    path = _path_nodes(index, level, new_size)
    if index == 0:
        return path
    return ProofNodes([(level, index), *path.nodes], path.border, path.at + 1)


def consistency_old_root(old_size: int, path: ProofNodes, proof: Sequence[bytes]) -> bytes:
    """The old tree's root, from the proof that `consistency_nodes(old_size, ...)` names as `path`
    (hashes in proof order, the border's in its place): for an old size that is not a power of
    two, whose root such a proof leaves out.

    The proof's first node is the old tree's last complete subtree. Every later node with an even
    index is a left sibling on that subtree's path, so a complete subtree of the old tree: they
    fold in as `fr` does in RFC 9162 2.1.4.2. Nodes with an odd index, and the border, lie right
    of the old tree.
    """
    if old_size & (old_size - 1) == 0 or not path.nodes:
        raise ValueError(f"a consistency proof from size {old_size} does not hold the old root")
    if path.border is not None:
        proof = [*proof[: path.at], *proof[path.at + 1 :]]
    fr = proof[0]
    for (_, index), h in zip(path.nodes[1:], proof[1:], strict=True):
        if not index & 1:
            fr = node_hash(h, fr)
    return fr


def _check_lengths(*hashes: bytes) -> None:
    for h in hashes:
        if len(h) != HASH_SIZE:
            raise ProofError(f"a hash is {len(h)} bytes long, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that an inclusion proof commits to (RFC 9162 2.1.3.2, steps 1 to 5)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    _check_lengths(leaf, *proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `proof` shows leaf hash `leaf` at `index` in the tree `root`."""
    _check_lengths(root)
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"the inclusion proof for leaf {index} does not lead to the root")


def _consistency_sides(old_size: int, new_size: int, count: int) -> list[bool]:
    """RFC 9162 2.1.4.2 steps 4 to 7 for a path of 1 + `count` hashes (0 < old_size < new_size):
    for each hash after the first, whether it lies left of the old tree's right border, so that it
    folds into both roots, or right of it, into the new root only. ProofError when the path's
    length does not fit the two trees."""
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    sides: list[bool] = []
    for _ in range(count):
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        left = bool(fn & 1) or fn == sn
        sides.append(left)
        if left and not fn & 1:
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    return sides


def verify_consistency(  # noqa: PLR0912 -- the RFC's algorithm, step for step
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise ProofError unless `proof` shows tree `old_root` is a prefix of `new_root`.

    RFC 9162 2.1.4.2. A tree of size 0 is a prefix of every tree and needs an empty proof.
    """
    _check_lengths(old_root, new_root, *proof)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == new_size:
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("the roots differ at equal sizes")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fr = sr = path[0]
    for c, left in zip(path[1:], _consistency_sides(old_size, new_size, len(path) - 1), strict=True):
        if left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    if fr != old_root:
        raise ProofError(f"the consistency proof does not lead to the old root (size {old_size})")
    if sr != new_root:
        raise ProofError(f"the consistency proof does not lead to the new root (size {new_size})")
