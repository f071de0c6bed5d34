"""Known-answer tests for chainproof.log.merkle: the RFC 6962 vectors of Certificate Transparency.

Three independent sources must agree: the values CT and transparency-dev/merkle publish (copied
below as literals), the naive RFC 9162 definitions in `rfc6962_naive`, and the JSON vector files
under tests/vectors/merkle/ (which also carry corrupted probes, each with the error it must raise).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainproof.log import merkle
from chainproof.log.merkle import ProofError

from . import rfc6962_naive as naive

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "merkle"

# certificate-transparency cpp/merkletree/merkle_tree_test.cc, as reused by transparency-dev/merkle
# (testonly/constants.go and the testdata generator): roots of the first 1..8 leaves.
PUBLISHED_ROOTS = {
    0: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

_H1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
_H23 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
_H47 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
_H4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
_H67 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
_H45 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
_H6 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"

# (0-based leaf index, tree size) -> audit path, as published (the sources count leaves from 1).
PUBLISHED_INCLUSION = {
    (0, 1): [],
    (0, 8): [_H1, _H23, _H47],
    (5, 8): [_H4, _H67, PUBLISHED_ROOTS[4]],
    (2, 3): [PUBLISHED_ROOTS[2]],
    (1, 5): [PUBLISHED_ROOTS[1], _H23, _H4],
}

PUBLISHED_CONSISTENCY = {
    (1, 1): [],
    (1, 8): [_H1, _H23, _H47],
    (6, 8): [_H45, _H67, PUBLISHED_ROOTS[4]],
    (2, 5): [_H23, _H4],
    (6, 7): [_H45, _H6, PUBLISHED_ROOTS[4]],
}


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


ROOTS = _load("roots.json")
INCLUSION = _load("inclusion.json")["cases"]
CONSISTENCY = _load("consistency.json")["cases"]


def _b(h: str) -> bytes:
    return bytes.fromhex(h)


def _bs(hs: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hs]


# --- the three sources agree -------------------------------------------------------------------


def test_vector_files_are_exactly_what_the_naive_generator_produces() -> None:
    for name, obj in naive.build_vectors().items():
        assert (VECTORS / name).read_text(encoding="utf-8") == naive.dump(obj), name


def test_naive_definitions_reproduce_the_published_roots() -> None:
    t = naive.ct_tree()
    for size, root in PUBLISHED_ROOTS.items():
        assert t.root(size).hex() == root, size


def test_naive_definitions_reproduce_the_published_proofs() -> None:
    t = naive.ct_tree()
    for (i, n), path in PUBLISHED_INCLUSION.items():
        assert [h.hex() for h in t.path(i, n)] == path, (i, n)
    for (m, n), proof in PUBLISHED_CONSISTENCY.items():
        assert [h.hex() for h in t.proof(m, n)] == proof, (m, n)


def test_roots_file_holds_the_published_roots() -> None:
    assert ROOTS["leaves"] == list(naive.CT_LEAVES_HEX)
    assert {r["size"]: r["root"] for r in ROOTS["roots"]} == PUBLISHED_ROOTS


def test_vector_files_hold_the_published_proofs() -> None:
    happy_inclusion = {(c["index"], c["size"]): c["proof"] for c in INCLUSION if c["error"] is None}
    for key, path in PUBLISHED_INCLUSION.items():
        assert happy_inclusion[key] == path
    happy_consistency = {
        (c["old_size"], c["new_size"]): c["proof"] for c in CONSISTENCY if c["error"] is None
    }
    for key, proof in PUBLISHED_CONSISTENCY.items():
        assert happy_consistency[key] == proof


def test_vector_files_cover_every_proof_of_the_eight_leaf_tree_and_carry_tampered_cases() -> None:
    happy_i = {(c["index"], c["size"]) for c in INCLUSION if c["error"] is None}
    assert {(i, n) for n in range(1, 9) for i in range(n)} <= happy_i
    happy_c = {(c["old_size"], c["new_size"]) for c in CONSISTENCY if c["error"] is None}
    assert {(m, n) for n in range(1, 9) for m in range(1, n + 1)} <= happy_c
    assert sum(c["error"] == "ProofError" for c in INCLUSION) >= 60
    assert sum(c["error"] == "ProofError" for c in CONSISTENCY) >= 60
    assert {c["error"] for c in INCLUSION + CONSISTENCY} == {None, "ProofError"}


# --- chainproof against the vectors -------------------------------------------------------------


def test_hash_primitives_match_the_vectors() -> None:
    assert merkle.EMPTY_ROOT.hex() == PUBLISHED_ROOTS[0]
    for data, expected in zip(ROOTS["leaves"], ROOTS["leaf_hashes"], strict=True):
        assert merkle.leaf_hash(_b(data)).hex() == expected
    # Root of two leaves is the interior node over the two leaf hashes.
    assert merkle.node_hash(*_bs(ROOTS["leaf_hashes"][:2])).hex() == PUBLISHED_ROOTS[2]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_vectors(size: int) -> None:
    leaf_hashes = _bs(ROOTS["leaf_hashes"][:size])
    expected = PUBLISHED_ROOTS[size]
    assert merkle.root_of_leaf_hashes(leaf_hashes).hex() == expected
    nodes = merkle.perfect_nodes(0, size)
    node_values = [naive.ct_tree().mth(n.begin, n.end) for n in nodes]
    assert merkle.fold_range(node_values).hex() == expected


@pytest.mark.parametrize("case", INCLUSION, ids=[c["desc"] for c in INCLUSION])
def test_inclusion_vector(case: dict[str, Any]) -> None:
    args = (case["index"], case["size"], _b(case["leaf_hash"]), _bs(case["proof"]), _b(case["root"]))
    if case["error"] is None:
        merkle.verify_inclusion(*args)
        assert merkle.root_from_inclusion_proof(*args[:4]) == args[4]
    else:
        assert case["error"] == "ProofError"
        with pytest.raises(ProofError):
            merkle.verify_inclusion(*args)


@pytest.mark.parametrize("case", CONSISTENCY, ids=[c["desc"] for c in CONSISTENCY])
def test_consistency_vector(case: dict[str, Any]) -> None:
    args = (
        case["old_size"],
        case["new_size"],
        _b(case["old_root"]),
        _b(case["new_root"]),
        _bs(case["proof"]),
    )
    if case["error"] is None:
        merkle.verify_consistency(*args)
    else:
        assert case["error"] == "ProofError"
        with pytest.raises(ProofError):
            merkle.verify_consistency(*args)


def _range_hash(lo: int, hi: int) -> bytes:
    """A range's MTH the way the store computes it: complete subtrees, folded."""
    t = naive.ct_tree()
    return merkle.fold_range([t.mth(n.begin, n.end) for n in merkle.perfect_nodes(lo, hi)])


def test_planned_proofs_equal_the_vector_proofs() -> None:
    for c in INCLUSION:
        if c["error"] is None and c["proof"] and c["index"] < c["size"] <= 8 and c["desc"].startswith("leaf"):
            path = merkle.inclusion_nodes(c["index"], c["size"])
            planned = [_range_hash(lo, hi) for lo, hi in naive.ranges_of(*path)]
            assert [h.hex() for h in planned] == c["proof"], c["desc"]
    for c in CONSISTENCY:
        if c["error"] is None and c["desc"].endswith("PROOF"):
            path = merkle.consistency_nodes(c["old_size"], c["new_size"])
            planned = [_range_hash(lo, hi) for lo, hi in naive.ranges_of(*path)]
            assert [h.hex() for h in planned] == c["proof"], c["desc"]
