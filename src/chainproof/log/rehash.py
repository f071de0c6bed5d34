"""The leaf-hash half of an audit: leaf hashes against the claimed ones, and the roots they give.

An auditor needs two things from the leaf hashes: which entries do not hash to the leaf hash the
log committed to, and the Merkle tree hash of the first n entries at every size n it checks a
checkpoint at. `InlineHashing` computes both as the entries go by. For a store they can also be
computed ahead, range by range, in other processes (`rehash_workers`): a range of 2^k leaves that
starts at a multiple of 2^k is a complete subtree (the log's last, shorter range a few of them),
so each range is hashed on its own (`RangeHasher`) and `combine` joins the ranges' subtrees into
the roots. `PrecomputedHashing` then answers the auditor
from those results, and checks that the entries the auditor reads are the very bytes (and claimed
hashes) that were hashed (`Binding`), since the workers read them in their own transactions.

Pure functions and classes over bytes: nothing here reads storage.
"""

from __future__ import annotations

import bisect
import hashlib
from array import array
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from chainproof.errors import StoreError
from chainproof.log import merkle, tiles

BLOCK = tiles.WIDTH
"""Leaves whose subtree root a sound store already holds: a full level-0 tile."""


class CompactRange:
    """The complete subtrees covering [0, size): enough to give the root at every size."""

    def __init__(self) -> None:
        self._hashes: list[bytes] = []
        self.size = 0

    def append(self, leaf_hash: bytes) -> None:
        h, n = leaf_hash, self.size
        while n & 1:
            h = merkle.node_hash(self._hashes.pop(), h)
            n >>= 1
        self._hashes.append(h)
        self.size += 1

    def extend(self, leaf_hashes: list[bytes], root: bytes | None = None) -> None:
        """Append leaves; a block of 2^k leaves at a multiple of 2^k goes in as one subtree.

        `root`, when given, is that subtree's root already known to hash from `leaf_hashes`.
        """
        count = len(leaf_hashes)
        if count > 1 and count & (count - 1) == 0 and self.size % count == 0:
            self._push(root if root is not None else _subtree_root(leaf_hashes), count.bit_length() - 1)
            return
        for h in leaf_hashes:
            self.append(h)

    def extend_subtrees(self, hashes: Sequence[bytes], count: int) -> None:
        """Append `count` leaves given as the hashes of their `merkle.perfect_nodes`, left to right."""
        nodes = merkle.perfect_nodes(self.size, self.size + count)
        for node, h in zip(nodes, hashes, strict=True):
            self._push(h, node.level)

    def _push(self, h: bytes, height: int) -> None:
        # Like `append`, one level up: size is a multiple of 2^height, so only subtrees of this
        # height (and, after merging, higher) sit at the end of the range.
        n = self.size >> height
        while n & 1:
            h = merkle.node_hash(self._hashes.pop(), h)
            n >>= 1
        self._hashes.append(h)
        self.size += 1 << height

    def hashes(self) -> list[bytes]:
        """The hashes of `merkle.perfect_nodes(0, size)`, largest subtree first."""
        return list(self._hashes)

    def root(self) -> bytes:
        return merkle.fold_range(self._hashes)


def _subtree_root(hashes: list[bytes]) -> bytes:
    """The root of a complete subtree (a power-of-two count), level by level in list passes."""
    level = hashes
    while len(level) > 1:
        level = merkle.parent_hashes(level)
    return level[0]


def mismatches(start: int, hashes: Sequence[bytes], claims: Sequence[bytes | None]) -> list[int]:
    """Indices (counted from `start`) whose claimed leaf hash is present and differs."""
    return [
        index
        for index, (h, claimed) in enumerate(zip(hashes, claims, strict=True), start)
        if claimed is not None and claimed != h
    ]


class LeafHashing(Protocol):
    """What the auditor asks about leaf hashes, for consecutive entries fed in index order."""

    def check(self, start: int, leaves: list[bytes], claims: list[bytes | None]) -> list[int]:
        """The indices among these entries (the first at `start`) whose bytes do not hash to their
        claimed leaf hash; the entries count as checked from then on."""

    def root(self, size: int) -> bytes:
        """The Merkle tree hash of the first `size` entries; `size` is the number checked so far."""

    @property
    def unlisted(self) -> int:
        """Mismatching entries that `check` could not name: only ever past the auditor's
        problem limit, so they are counted, never listed."""


class InlineHashing:
    """Leaf hashes computed as the entries are checked, in the auditing process."""

    unlisted = 0

    def __init__(self, block_roots: Callable[[int], bytes] | None = None) -> None:
        """`block_roots(k)`, if given, is the root of leaves [k*BLOCK, (k+1)*BLOCK) as hashed from
        the claimed leaf hashes (a store's verified tiles): a full block whose leaves match their
        claims takes it instead of hashing its subtree again, and gets the very same root."""
        self._block_roots = block_roots
        self._range = CompactRange()

    def check(self, start: int, leaves: list[bytes], claims: list[bytes | None]) -> list[int]:
        hashes = merkle.leaf_hashes(leaves)
        matched = hashes == claims  # the usual case: one comparison in C for the whole batch
        self._range.extend(hashes, self._known_root(start, len(hashes)) if matched else None)
        return [] if matched else mismatches(start, hashes, claims)

    def _known_root(self, start: int, count: int) -> bytes | None:
        if self._block_roots is None or count != BLOCK or start % BLOCK:
            return None
        return self._block_roots(start // BLOCK)

    def root(self, size: int) -> bytes:
        return self._range.root()


class Binding:
    """A digest of consecutive entries and their claimed hashes that does not depend on how they
    were cut into batches: the leaf bytes, the leaf lengths and the claims, each concatenated."""

    def __init__(self) -> None:
        self._leaves = hashlib.sha256()
        self._lengths = hashlib.sha256()
        self._claims = hashlib.sha256()

    def update(self, leaves: list[bytes], claims: list[bytes | None]) -> None:
        self._leaves.update(b"".join(leaves))
        self._lengths.update(array("Q", map(len, leaves)).tobytes())
        # A missing claim (b"") cannot pass for a present one: stored claims are 32 bytes each.
        self._claims.update(b"".join([c or b"" for c in claims]))

    def digest(self) -> bytes:
        return hashlib.sha256(self._leaves.digest() + self._lengths.digest() + self._claims.digest()).digest()


@dataclass(frozen=True)
class RangeTask:
    """Leaves [begin, end) to re-hash; `begin` is a multiple of a power of two >= end - begin."""

    begin: int
    end: int
    cuts: tuple[int, ...]
    """Sizes strictly inside the range at which the auditor needs the root, ascending."""
    block_roots: tuple[bytes, ...]
    """The store's roots of the full blocks of the range, in order (see `InlineHashing`)."""
    limit: int
    """Mismatching indices to list at most; the rest are only counted."""


@dataclass(frozen=True)
class RangeHashes:
    """What re-hashing one range found."""

    begin: int
    end: int
    mismatched: tuple[int, ...]
    mismatch_count: int
    at_cuts: dict[int, list[bytes]]
    """For each cut, the hashes of `merkle.perfect_nodes(begin, cut)`."""
    nodes: list[bytes]
    """The hashes of `merkle.perfect_nodes(begin, end)`: one, unless the range is the log's last."""
    binding: bytes


class RangeHasher:
    """Re-hashes one range from its entries, fed in order in batches of any length."""

    def __init__(self, task: RangeTask) -> None:
        self._task = task
        self._tree = CompactRange()  # positions relative to task.begin, which alignment allows
        self._cuts = [cut - task.begin for cut in task.cuts]
        self._at_cuts: dict[int, list[bytes]] = {}
        self._hashes: list[bytes] = []  # hashed, not yet in the tree
        self._claims: list[bytes | None] = []
        self._binding = Binding()
        self._mismatched: list[int] = []
        self._mismatch_count = 0

    def feed(self, leaves: list[bytes], claims: list[bytes | None]) -> None:
        start = self._task.begin + self._tree.size + len(self._hashes)
        if start + len(leaves) > self._task.end:
            raise ValueError(f"entries past the end of range [{self._task.begin}, {self._task.end})")
        self._binding.update(leaves, claims)
        hashes = merkle.leaf_hashes(leaves)
        if hashes != claims:
            self._note(mismatches(start, hashes, claims))
        self._hashes += hashes
        self._claims += claims
        self._grow()

    def _note(self, found: list[int]) -> None:
        self._mismatch_count += len(found)
        self._mismatched += found[: self._task.limit - len(self._mismatched)]

    def _grow(self) -> None:
        """Move pending hashes into the tree up to the last block end or cut they reach."""
        taken = 0
        while True:
            done = self._tree.size
            stop = self._next_stop(done)
            if stop - done > len(self._hashes) - taken:
                break
            piece = slice(taken, taken + stop - done)
            self._add(done, self._hashes[piece], self._claims[piece])
            taken += stop - done
            if self._cuts and self._cuts[0] == stop:
                self._at_cuts[self._task.begin + self._cuts.pop(0)] = self._tree.hashes()
            if stop == self._task.end - self._task.begin:
                break
        del self._hashes[:taken], self._claims[:taken]

    def _next_stop(self, done: int) -> int:
        block_end = (done // BLOCK + 1) * BLOCK
        return min(block_end, self._task.end - self._task.begin, *self._cuts[:1])

    def _add(self, done: int, hashes: list[bytes], claims: list[bytes | None]) -> None:
        root = None
        k = done // BLOCK
        if len(hashes) == BLOCK and k < len(self._task.block_roots) and hashes == claims:
            root = self._task.block_roots[k]
        self._tree.extend(hashes, root)

    def result(self) -> RangeHashes:
        task = self._task
        if self._hashes or self._tree.size != task.end - task.begin:
            raise ValueError(f"range [{task.begin}, {task.end}) was not fed every entry")
        return RangeHashes(
            task.begin,
            task.end,
            tuple(self._mismatched),
            self._mismatch_count,
            self._at_cuts,
            self._tree.hashes(),
            self._binding.digest(),
        )


def root_sizes(checkpoint_sizes: Iterable[int], size: int, saved_size: int | None) -> set[int]:
    """Every size at which an audit of `size` entries may ask for the root: 0, `size`, and each
    checkpoint's or the saved checkpoint's size that the entries reach."""
    wanted = {0, size}
    wanted.update(s for s in checkpoint_sizes if 0 < s < size)
    if saved_size is not None and 0 < saved_size < size:
        wanted.add(saved_size)
    return wanted


def plan(
    size: int, span: int, sizes: Collection[int], block_roots: Sequence[bytes], limit: int
) -> list[RangeTask]:
    """Cut [0, size) into ranges of `span` leaves (a power of two, a whole number of blocks)."""
    if span < BLOCK or span & (span - 1):
        raise ValueError(f"a range spans a power of two of at least {BLOCK} leaves, not {span}")
    cuts = sorted(s for s in sizes if s % span)
    tasks: list[RangeTask] = []
    for begin in range(0, size, span):
        end = min(begin + span, size)
        inside = cuts[bisect.bisect_right(cuts, begin) : bisect.bisect_left(cuts, end)]
        roots = tuple(block_roots[begin // BLOCK : end // BLOCK])
        tasks.append(RangeTask(begin, end, tuple(inside), roots, limit))
    return tasks


@dataclass
class Rehashed:
    """Every range's results joined: roots at the sizes asked for, mismatches in index order."""

    size: int = 0
    roots: dict[int, bytes] = field(default_factory=dict)
    mismatched: list[int] = field(default_factory=list)
    mismatch_count: int = 0
    bindings: list[tuple[int, int, bytes]] = field(default_factory=list)
    """(begin, end, binding) of each range."""


def combine(ranges: Iterable[RangeHashes], sizes: Collection[int], limit: int) -> Rehashed:
    """Join consecutive ranges (from 0) into the root at each of `sizes` they cover."""
    out = Rehashed()
    tree = CompactRange()
    if 0 in sizes:
        out.roots[0] = tree.root()
    for r in ranges:
        if r.begin != tree.size:
            raise ValueError(f"range [{r.begin}, {r.end}) does not start where the last one ended")
        # The ranges so far end at a multiple of a power of two that spans this range, so the
        # complete subtrees of [0, cut) are those of [0, begin) followed by those of [begin, cut).
        for cut, nodes in r.at_cuts.items():
            out.roots[cut] = merkle.fold_range([*tree.hashes(), *nodes])
        tree.extend_subtrees(r.nodes, r.end - r.begin)
        if r.end in sizes:
            out.roots[r.end] = tree.root()
        out.mismatched += r.mismatched[: limit - len(out.mismatched)]
        out.mismatch_count += r.mismatch_count
        out.bindings.append((r.begin, r.end, r.binding))
    out.size = tree.size
    return out


class PrecomputedHashing:
    """Answers the auditor from `Rehashed`, checking the entries it is fed are those hashed."""

    def __init__(self, rehashed: Rehashed) -> None:
        self._rehashed = rehashed
        self._next_mismatch = 0
        self._range = 0  # index into rehashed.bindings of the range being fed
        self._binding = Binding()
        self._checked = 0

    @property
    def unlisted(self) -> int:
        return self._rehashed.mismatch_count - len(self._rehashed.mismatched)

    def check(self, start: int, leaves: list[bytes], claims: list[bytes | None]) -> list[int]:
        end = start + len(leaves)
        if start != self._checked or end > self._rehashed.size:
            raise ValueError(f"entries [{start}, {end}) were not re-hashed")
        self._bind(start, leaves, claims)
        self._checked = end
        listed = self._rehashed.mismatched
        first = self._next_mismatch
        self._next_mismatch = bisect.bisect_left(listed, end, lo=first)
        return listed[first : self._next_mismatch]

    def _bind(self, start: int, leaves: list[bytes], claims: list[bytes | None]) -> None:
        """Feed the current range's binding, cutting the entries at range ends."""
        at = 0
        while at < len(leaves):
            begin, end, expected = self._rehashed.bindings[self._range]
            part = min(len(leaves) - at, end - (start + at))
            self._binding.update(leaves[at : at + part], claims[at : at + part])
            at += part
            if start + at == end:
                if self._binding.digest() != expected:
                    raise StoreError(
                        f"entries {begin} to {end - 1} changed while the store was audited "
                        "(two reads of them differ); audit it again"
                    )
                self._range += 1
                self._binding = Binding()

    def root(self, size: int) -> bytes:
        try:
            return self._rehashed.roots[size]
        except KeyError:
            raise ValueError(f"no root was computed at size {size}") from None
