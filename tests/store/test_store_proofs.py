"""Inclusion and consistency proofs served by TransparencyLog, for every index and every tree size.

The log grows one entry per append, so the store holds a signed checkpoint for every size: each
proof is checked with merkle.verify_* against that signed root, and against a root recomputed
from the leaves independently of the tiles the proofs are served from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from store_support import build_log, checkpoint_of, envelope, leaf_hashes

from chainproof.errors import UsageError
from chainproof.log import merkle
from chainproof.log.service import TransparencyLog

SIZE = 70


@dataclass
class Grown:
    log: TransparencyLog
    hashes: list[bytes]
    signed_roots: dict[int, bytes]
    roots: dict[int, bytes]


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grown]:
    built = build_log(tmp_path_factory.mktemp("proofs") / "store", [])
    log = built.log
    n = 0
    while log.size() < SIZE:
        log.append([envelope(built.actor, n)])
        n += 1
    hashes = leaf_hashes(log)
    with log.reading() as r:
        signed = {size: checkpoint_of(note, built.vkey).root for size, note in r.checkpoints()}
    roots = {size: merkle.root_of_leaf_hashes(hashes[:size]) for size in range(SIZE + 1)}
    yield Grown(log, hashes, signed, roots)
    log.close()


def test_there_is_a_signed_checkpoint_for_every_size(grown: Grown) -> None:
    assert sorted(grown.signed_roots) == list(range(1, SIZE + 1))
    for size, root in grown.signed_roots.items():
        assert root == grown.roots[size], size


def test_inclusion_proof_for_every_index_and_size(grown: Grown) -> None:
    checked = 0
    for size in range(1, SIZE + 1):
        for index in range(size):
            p = grown.log.prove(index, size)
            assert (p.index, p.tree_size) == (index, size)
            assert p.leaf_hash == grown.hashes[index]
            assert p.root_hash == grown.signed_roots[size] == grown.roots[size]
            merkle.verify_inclusion(index, size, grown.hashes[index], p.proof, grown.signed_roots[size])
            checked += 1
    assert checked == SIZE * (SIZE + 1) // 2


def test_inclusion_proof_defaults_to_the_latest_size(grown: Grown) -> None:
    p = grown.log.prove(17)
    assert p.tree_size == SIZE
    merkle.verify_inclusion(17, SIZE, grown.hashes[17], p.proof, grown.roots[SIZE])
    by_hash = grown.log.prove_leaf(grown.hashes[17], 40)
    assert by_hash == grown.log.prove(17, 40)


def test_consistency_proof_for_every_pair_of_sizes(grown: Grown) -> None:
    checked = 0
    for new in range(SIZE + 1):
        for old in range(new + 1):
            c = grown.log.consistency(old, new)
            assert (c.old_size, c.new_size) == (old, new)
            assert c.old_root == grown.roots[old]
            assert c.new_root == grown.roots[new]
            merkle.verify_consistency(old, new, grown.roots[old], grown.roots[new], c.proof)
            checked += 1
    assert checked == (SIZE + 1) * (SIZE + 2) // 2
    assert grown.roots[0] == merkle.EMPTY_ROOT


def test_proofs_do_not_verify_against_another_root_or_leaf(grown: Grown) -> None:
    p = grown.log.prove(33, 64)
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(33, 64, grown.hashes[34], p.proof, grown.roots[64])
    with pytest.raises(merkle.ProofError):
        merkle.verify_inclusion(33, 64, grown.hashes[33], p.proof, grown.roots[65])
    for i in range(len(p.proof)):
        tampered = list(p.proof)
        tampered[i] = bytes([tampered[i][0] ^ 0x80]) + tampered[i][1:]
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(33, 64, grown.hashes[33], tampered, grown.roots[64])
    c = grown.log.consistency(21, 58)
    with pytest.raises(merkle.ProofError):
        merkle.verify_consistency(21, 58, grown.roots[22], grown.roots[58], c.proof)
    for i in range(len(c.proof)):
        tampered = list(c.proof)
        tampered[i] = bytes([tampered[i][0] ^ 1]) + tampered[i][1:]
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(21, 58, grown.roots[21], grown.roots[58], tampered)


@pytest.mark.parametrize(
    ("index", "size", "fragment"),
    [
        (SIZE, None, f"index {SIZE} is outside the log"),
        (-1, None, "index -1 is outside the log"),
        (5, 5, "index 5 is outside the log"),
        (0, 0, "index 0 is outside the log"),
        (0, SIZE + 1, f"tree size {SIZE + 1} is larger than the log \\(size {SIZE}\\)"),
        (0, -1, "tree size -1 is negative"),
    ],
)
def test_prove_out_of_range(grown: Grown, index: int, size: int | None, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        grown.log.prove(index, size)


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (SIZE + 1, None, f"old size {SIZE + 1} is larger than the log \\(size {SIZE}\\)"),
        (-1, None, "old size -1 is negative"),
        (10, 9, "old size 10 is larger than new size 9"),
        (0, SIZE + 1, f"tree size {SIZE + 1} is larger than the log"),
    ],
)
def test_consistency_out_of_range(grown: Grown, old: int, new: int | None, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        grown.log.consistency(old, new)


def test_prove_an_unknown_leaf_hash(grown: Grown) -> None:
    with pytest.raises(UsageError, match="no entry with leaf hash"):
        grown.log.prove_leaf(b"\x42" * 32)
