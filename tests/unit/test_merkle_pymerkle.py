"""Cross-checks of chainproof.log.merkle against pymerkle, an independent implementation.

pymerkle's InmemoryTree with its default security mode hashes leaves as SHA-256(0x00 || data) and
interior nodes as SHA-256(0x01 || left || right), splitting at the largest power of two below the
width: the RFC 9162 tree. Its inclusion proofs are RFC 9162 audit paths with the leaf hash in front,
so its verifier can check ours. Its consistency proofs use a different path format (not RFC 9162
2.1.4), so for those we check that its proofs verify against *our* roots, and that its verifier
tells our roots of different sizes apart.
"""

from __future__ import annotations

import pymerkle  # type: ignore[import-untyped]
import pytest
from pymerkle import InmemoryTree, InvalidProof

from chainproof.log import merkle

from .rfc6962_naive import NaiveTree, ranges_of

MAX_ROOTS = 200
MAX_PROOFS = 64

LEAVES = [b"pymerkle %d" % i for i in range(MAX_ROOTS)]
LEAF_HASHES = [merkle.leaf_hash(d) for d in LEAVES]
NAIVE = NaiveTree(LEAVES)


@pytest.fixture(scope="module")
def tree() -> InmemoryTree:
    t = InmemoryTree(algorithm="sha256")
    assert t.security is True  # 0x00 / 0x01 prefixes, as in RFC 9162
    for data in LEAVES:
        t.append_entry(data)
    return t


def _hashes(ranges: list[tuple[int, int]]) -> list[bytes]:
    return [merkle.root_of_leaf_hashes(LEAF_HASHES[b:e]) for b, e in ranges]


def _our_inclusion(index: int, size: int) -> list[bytes]:
    return _hashes(ranges_of(*merkle.inclusion_nodes(index, size)))


def _our_consistency(old: int, new: int) -> list[bytes]:
    return _hashes(ranges_of(*merkle.consistency_nodes(old, new)))


def test_roots_agree_while_the_tree_grows_to_200_leaves() -> None:
    t = InmemoryTree(algorithm="sha256")
    assert t.get_root() == merkle.EMPTY_ROOT == merkle.root_of_leaf_hashes([])
    for size, data in enumerate(LEAVES, start=1):
        assert t.append_entry(data) == size
        assert t.get_leaf(size) == merkle.leaf_hash(data)
        assert t.get_root() == merkle.root_of_leaf_hashes(LEAF_HASHES[:size]), size


def test_historical_roots_agree_for_every_size(tree: InmemoryTree) -> None:
    for size in range(MAX_ROOTS + 1):
        ours = merkle.root_of_leaf_hashes(LEAF_HASHES[:size])
        assert tree.get_root(size) == ours, size
        assert ours == NAIVE.root(size)


def test_pymerkle_without_security_prefixes_disagrees() -> None:
    """The agreement above depends on the RFC 9162 prefixes: this check can fail."""
    t = InmemoryTree(algorithm="sha256", disable_security=True)
    for data in LEAVES[:5]:
        t.append_entry(data)
    assert t.get_root() != merkle.root_of_leaf_hashes(LEAF_HASHES[:5])


def test_inclusion_proofs_are_pymerkle_audit_paths_and_pass_its_verifier(tree: InmemoryTree) -> None:
    for size in range(1, MAX_PROOFS + 1):
        root = tree.get_root(size)
        for index in range(size):
            ours = _our_inclusion(index, size)
            theirs = tree.prove_inclusion(index + 1, size)  # pymerkle counts leaves from one
            assert theirs.path == [LEAF_HASHES[index], *ours], (index, size)
            # Our verifier accepts their path ...
            merkle.verify_inclusion(index, size, LEAF_HASHES[index], theirs.path[1:], root)
            # ... and their verifier accepts ours.
            mine = pymerkle.InclusionProof(
                "sha256", True, size, index + 1, theirs.rule, [LEAF_HASHES[index], *ours]
            )
            pymerkle.verify_inclusion(LEAF_HASHES[index], root, mine, index=index + 1, size=size)


def test_pymerkle_rejects_our_proof_when_tampered(tree: InmemoryTree) -> None:
    size, index = 37, 12
    ours = _our_inclusion(index, size)
    rule = tree.prove_inclusion(index + 1, size).rule
    root = tree.get_root(size)
    for k in range(len(ours)):
        bad = list(ours)
        bad[k] = bytes([bad[k][0] ^ 1]) + bad[k][1:]
        proof = pymerkle.InclusionProof("sha256", True, size, index + 1, rule, [LEAF_HASHES[index], *bad])
        with pytest.raises(InvalidProof):
            pymerkle.verify_inclusion(LEAF_HASHES[index], root, proof)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, LEAF_HASHES[index], bad, root)


def test_pymerkle_consistency_proofs_verify_against_our_roots(tree: InmemoryTree) -> None:
    for new in range(1, MAX_PROOFS + 1):
        new_root = merkle.root_of_leaf_hashes(LEAF_HASHES[:new])
        for old in range(1, new + 1):
            old_root = merkle.root_of_leaf_hashes(LEAF_HASHES[:old])
            theirs = tree.prove_consistency(old, new)
            pymerkle.verify_consistency(old_root, new_root, theirs, prior_size=old, later_size=new)
            # Our own proof for the same pair verifies against the same roots.
            merkle.verify_consistency(old, new, old_root, new_root, _our_consistency(old, new))
            if old > 1:
                with pytest.raises(InvalidProof):
                    pymerkle.verify_consistency(
                        merkle.root_of_leaf_hashes(LEAF_HASHES[: old - 1]), new_root, theirs
                    )
