"""Tests of the auditor's compact range: roots at every size, leaf by leaf and in batches."""

from __future__ import annotations

import itertools

import pytest

from chainproof.log import merkle
from chainproof.log.audit import BATCH
from chainproof.log.rehash import CompactRange

from .rfc6962_naive import NaiveTree

LEAVES = [b"range leaf %d" % i for i in range(3 * BATCH + 40)]
NAIVE = NaiveTree(LEAVES)
HASHES = merkle.leaf_hashes(LEAVES)


def test_batch_hashes_match_single_hashes() -> None:
    assert [merkle.leaf_hash(d) for d in LEAVES] == HASHES
    pairs = [merkle.node_hash(HASHES[i], HASHES[i + 1]) for i in range(0, 8, 2)]
    assert merkle.parent_hashes(HASHES[:8]) == pairs


@pytest.mark.parametrize("cuts", [[], [1], [5, 7], [BATCH - 3], [BATCH + 1, 2 * BATCH - 1], [37, 300, 700]])
def test_extend_gives_the_roots_of_append(cuts: list[int]) -> None:
    """Blocks of any length, aligned or not, as the auditor cuts them at checkpoints."""
    bounds = [0, *cuts, *range(BATCH, len(LEAVES), BATCH), len(LEAVES)]
    bounds = sorted(set(bounds))
    cr = CompactRange()
    for lo, hi in itertools.pairwise(bounds):
        cr.extend(HASHES[lo:hi])
        assert cr.size == hi
        assert cr.root() == NAIVE.root(hi)
