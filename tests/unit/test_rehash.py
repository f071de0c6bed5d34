"""Tests of the re-hash in ranges: ranges hashed on their own join into the roots of the whole log."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest

from chainproof.errors import StoreError
from chainproof.log import merkle, rehash
from chainproof.log.rehash import (
    BLOCK,
    Binding,
    InlineHashing,
    PrecomputedHashing,
    RangeHasher,
    RangeHashes,
    RangeTask,
)

from .rfc6962_naive import NaiveTree

LEAVES = [b"rehash leaf %d" % i for i in range(4 * BLOCK + 77)]
SIZE = len(LEAVES)
NAIVE = NaiveTree(LEAVES)
HASHES = merkle.leaf_hashes(LEAVES)


def _block_roots() -> list[bytes]:
    """The root of every full block, as a sound store holds them."""
    return [_subtree(HASHES[k * BLOCK : (k + 1) * BLOCK]) for k in range(SIZE // BLOCK)]


def _subtree(hashes: list[bytes]) -> bytes:
    level = hashes
    while len(level) > 1:
        level = merkle.parent_hashes(level)
    return level[0]


def _hash_ranges(
    tasks: Sequence[RangeTask], claims: Sequence[bytes | None], rng: random.Random
) -> list[RangeHashes]:
    """Each range fed in batches of random lengths, as a store's chunks might come."""
    results = []
    for task in tasks:
        hasher = RangeHasher(task)
        at = task.begin
        while at < task.end:
            step = min(task.end - at, rng.choice([1, 7, 100, BLOCK, 1000]))
            hasher.feed(LEAVES[at : at + step], list(claims[at : at + step]))
            at += step
        results.append(hasher.result())
    return results


@pytest.mark.parametrize("span", [BLOCK, 2 * BLOCK, 4 * BLOCK, 8 * BLOCK])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranges_join_into_the_root_at_every_size(span: int, seed: int) -> None:
    rng = random.Random(seed)
    sizes = rehash.root_sizes([*rng.sample(range(1, SIZE), 40), BLOCK, 2 * BLOCK, SIZE - 1], SIZE, 3)
    tasks = rehash.plan(SIZE, span, sizes, _block_roots(), 10)
    joined = rehash.combine(_hash_ranges(tasks, HASHES, rng), sizes, 10)
    assert joined.size == SIZE
    assert joined.roots == {s: NAIVE.root(s) for s in sizes}
    assert (joined.mismatched, joined.mismatch_count) == ([], 0)


def test_every_size_of_a_short_log_gets_its_root() -> None:
    size = 2 * BLOCK + 5
    sizes = set(range(size + 1))
    tasks = rehash.plan(size, BLOCK, sizes, _block_roots()[:2], 10)
    joined = rehash.combine(_hash_ranges(tasks, HASHES, random.Random(4)), sizes, 10)
    assert joined.roots == {s: NAIVE.root(s) for s in sizes}


def test_a_block_whose_claims_differ_is_hashed_not_taken_from_the_store() -> None:
    """The stored root of a block stands for its claims: a block with a differing claim must be
    hashed from its entries, or a forged entry would come with the honest root."""
    claims: list[bytes | None] = list(HASHES)
    claims[BLOCK + 3] = bytes(32)
    roots = _block_roots()
    roots[1] = bytes(32)  # would stand for the claims, were they used
    sizes = {0, 2 * BLOCK, SIZE}
    for span in (BLOCK, 2 * BLOCK):
        tasks = rehash.plan(SIZE, span, sizes, roots, 10)
        joined = rehash.combine(_hash_ranges(tasks, claims, random.Random(5)), sizes, 10)
        assert joined.mismatched == [BLOCK + 3]
        assert joined.roots == {s: NAIVE.root(s) for s in sizes}


def test_stored_block_roots_are_taken_for_matching_blocks() -> None:
    """A sound store's roots are used as given (so a different one shows in the root)."""
    roots = _block_roots()
    roots[2] = bytes(32)
    sizes = {0, SIZE}
    joined = rehash.combine(
        _hash_ranges(rehash.plan(SIZE, BLOCK, sizes, roots, 10), HASHES, random.Random(6)), sizes, 10
    )
    assert joined.roots[SIZE] != NAIVE.root(SIZE)


def test_mismatches_are_listed_in_order_up_to_the_limit_and_all_counted() -> None:
    claims: list[bytes | None] = list(HASHES)
    bad = [0, 5, BLOCK - 1, BLOCK, 3 * BLOCK + 2, SIZE - 1]
    for i in bad:
        claims[i] = merkle.leaf_hash(b"other %d" % i)
    claims[7] = None  # no claim: nothing to compare with
    sizes = {0, SIZE}
    for limit in (1, 3, 100):
        tasks = rehash.plan(SIZE, BLOCK, sizes, _block_roots(), limit)
        joined = rehash.combine(_hash_ranges(tasks, claims, random.Random(7)), sizes, limit)
        assert joined.mismatched == bad[:limit]
        assert joined.mismatch_count == len(bad)
        assert joined.roots[SIZE] == NAIVE.root(SIZE)


def test_inline_hashing_names_the_same_mismatches() -> None:
    claims: list[bytes | None] = list(HASHES)
    claims[9] = bytes(32)
    inline = InlineHashing()
    assert inline.check(0, LEAVES[:BLOCK], claims[:BLOCK]) == [9]
    assert inline.check(BLOCK, LEAVES[BLOCK:], claims[BLOCK:]) == []
    assert inline.root(SIZE) == NAIVE.root(SIZE)
    assert inline.unlisted == 0


def test_plan_cuts_ranges_at_multiples_of_the_span() -> None:
    tasks = rehash.plan(SIZE, 2 * BLOCK, {0, 3, 2 * BLOCK, 2 * BLOCK + 1, SIZE}, _block_roots(), 9)
    assert [(t.begin, t.end, t.cuts, len(t.block_roots), t.limit) for t in tasks] == [
        (0, 2 * BLOCK, (3,), 2, 9),
        (2 * BLOCK, 4 * BLOCK, (2 * BLOCK + 1,), 2, 9),
        (4 * BLOCK, SIZE, (), 0, 9),
    ]
    assert tasks[1].block_roots == tuple(_block_roots()[2:4])
    assert rehash.plan(0, BLOCK, {0}, [], 1) == []
    for span in (BLOCK // 2, 3 * BLOCK, BLOCK + 1):
        with pytest.raises(ValueError, match="power of two"):
            rehash.plan(SIZE, span, {0}, [], 1)


def test_root_sizes_keep_the_sizes_the_entries_reach() -> None:
    assert rehash.root_sizes([0, 1, 5, 10, 11, -3], 10, None) == {0, 1, 5, 10}
    assert rehash.root_sizes([], 10, 4) == {0, 4, 10}
    assert rehash.root_sizes([], 10, 12) == {0, 10}


def test_a_range_must_get_exactly_its_entries() -> None:
    task = RangeTask(0, 10, (), (), 5)
    hasher = RangeHasher(task)
    hasher.feed(LEAVES[:6], list(HASHES[:6]))
    with pytest.raises(ValueError, match="not fed every entry"):
        hasher.result()
    with pytest.raises(ValueError, match="past the end"):
        hasher.feed(LEAVES[6:11], list(HASHES[6:11]))
    results = [RangeHashes(BLOCK, 2 * BLOCK, (), 0, {}, [], b"")]
    with pytest.raises(ValueError, match="does not start"):
        rehash.combine(results, {0}, 1)


def test_the_binding_ignores_batching_but_not_the_entries() -> None:
    claims: list[bytes | None] = list(HASHES[:10])

    def digest(
        cuts: Sequence[int], leaves: list[bytes] = LEAVES[:10], cl: list[bytes | None] = claims
    ) -> bytes:
        b = Binding()
        bounds = [0, *cuts, len(leaves)]
        for lo, hi in itertools.pairwise(bounds):
            b.update(leaves[lo:hi], cl[lo:hi])
        return b.digest()

    assert digest([]) == digest([3]) == digest([1, 2, 9])
    moved = [LEAVES[0] + LEAVES[1][:2], LEAVES[1][2:], *LEAVES[2:10]]  # same bytes, cut elsewhere
    assert b"".join(moved) == b"".join(LEAVES[:10])
    assert digest([], moved) != digest([])
    assert digest([], LEAVES[:10], [*claims[:9], bytes(32)]) != digest([])
    assert digest([], LEAVES[:10], [*claims[:9], None]) != digest([])


def _precomputed(claims: list[bytes | None], limit: int = 100) -> PrecomputedHashing:
    sizes = {0, BLOCK, 2 * BLOCK + 1, SIZE}
    tasks = rehash.plan(SIZE, 2 * BLOCK, sizes, _block_roots(), limit)
    return PrecomputedHashing(rehash.combine(_hash_ranges(tasks, claims, random.Random(8)), sizes, limit))


def test_precomputed_hashing_answers_batch_by_batch() -> None:
    claims: list[bytes | None] = list(HASHES)
    claims[3] = claims[2 * BLOCK] = claims[SIZE - 1] = bytes(32)
    hashing = _precomputed(claims)
    assert hashing.check(0, LEAVES[:BLOCK], claims[:BLOCK]) == [3]
    assert hashing.root(BLOCK) == NAIVE.root(BLOCK)
    assert hashing.check(BLOCK, LEAVES[BLOCK : 2 * BLOCK + 1], claims[BLOCK : 2 * BLOCK + 1]) == [2 * BLOCK]
    assert hashing.root(2 * BLOCK + 1) == NAIVE.root(2 * BLOCK + 1)
    assert hashing.check(2 * BLOCK + 1, LEAVES[2 * BLOCK + 1 :], claims[2 * BLOCK + 1 :]) == [SIZE - 1]
    assert hashing.root(SIZE) == NAIVE.root(SIZE)
    assert hashing.unlisted == 0
    with pytest.raises(ValueError, match="no root was computed at size 5"):
        hashing.root(5)


def test_precomputed_hashing_counts_what_it_cannot_list() -> None:
    claims: list[bytes | None] = [bytes(32)] * SIZE
    hashing = _precomputed(claims, limit=4)
    assert hashing.check(0, LEAVES, claims) == [0, 1, 2, 3]
    assert hashing.unlisted == SIZE - 4


def test_precomputed_hashing_refuses_entries_other_than_those_hashed() -> None:
    claims: list[bytes | None] = list(HASHES)
    hashing = _precomputed(claims)
    other = [*LEAVES[: BLOCK + 1], b"another entry", *LEAVES[BLOCK + 2 : 2 * BLOCK]]
    assert hashing.check(0, other[:BLOCK], claims[:BLOCK]) == []
    with pytest.raises(StoreError, match=r"entries 0 to 511 changed while the store was audited"):
        hashing.check(BLOCK, other[BLOCK:], claims[BLOCK : 2 * BLOCK])
    fresh = _precomputed(claims)
    with pytest.raises(StoreError, match="changed while"):
        fresh.check(0, LEAVES[: 2 * BLOCK], [*claims[: 2 * BLOCK - 1], bytes(32)])
    with pytest.raises(ValueError, match="were not re-hashed"):
        _precomputed(claims).check(1, LEAVES[1:2], claims[1:2])
