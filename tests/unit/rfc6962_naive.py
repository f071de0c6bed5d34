"""An independent, literal implementation of the RFC 9162 (RFC 6962) Merkle tree definitions.

This module deliberately imports nothing from chainproof: it is the reference the unit tests compare
chainproof against. MTH, PATH and SUBPROOF are transcribed from RFC 9162 section 2.1 as recursive
functions: MTH over leaf *data*, PATH and SUBPROOF over leaf ranges whose MTHs make the proof. The
only concession to speed is a cache of MTH per leaf range.

Run it as a script to (re)write the known-answer vector files under tests/vectors/merkle/:

    .venv/bin/python tests/unit/rfc6962_naive.py --write

`test_merkle_vectors.py` checks that the files on disk are exactly what `build_vectors()` returns, so
the files and this generator cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

VECTOR_DIR = Path(__file__).resolve().parent.parent / "vectors" / "merkle"

# The eight leaves of the Certificate Transparency / transparency-dev RFC 6962 test vectors.
CT_LEAVES_HEX: tuple[str, ...] = (
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)

# Fixed values used by transparency-dev/merkle's corrupted-proof probes.
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
EMPTY_TREE_HASH = hashlib.sha256(b"").digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def split_point(n: int) -> int:
    """k: the largest power of two smaller than n (n > 1), by counting, not by bit tricks."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveTree:
    """MTH, PATH and PROOF of RFC 9162 2.1 over a list of leaf data D[0:n] (the recursions of PATH
    and SUBPROOF are below, over leaf ranges)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._mth: dict[tuple[int, int], bytes] = {}

    def leaf_hash(self, i: int) -> bytes:
        return sha256(b"\x00" + self.leaves[i])

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        key = (lo, hi)
        cached = self._mth.get(key)
        if cached is not None:
            return cached
        n = hi - lo
        if n == 0:
            result = sha256(b"")
        elif n == 1:
            result = sha256(b"\x00" + self.leaves[lo])
        else:
            k = split_point(n)
            result = sha256(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))
        self._mth[key] = result
        return result

    def root(self, n: int) -> bytes:
        return self.mth(0, n)

    def path(self, m: int, n: int) -> list[bytes]:
        """PATH(m, D[n]) for 0 <= m < n: the audit path, leaf end first."""
        return [self.mth(lo, hi) for lo, hi in path_ranges(m, n)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) for 0 < m <= n (empty when m == n)."""
        if not 0 < m <= n:
            raise ValueError("PROOF needs 0 < m <= n")
        return [self.mth(lo, hi) for lo, hi in subproof_ranges(m, n, True)]


def path_ranges(m: int, n: int, lo: int = 0) -> list[tuple[int, int]]:
    """PATH(m, D[lo:lo+n]) for 0 <= m < n, as the leaf ranges whose MTHs it lists, leaf end first."""
    if not 0 <= m < n:
        raise ValueError("PATH needs 0 <= m < n")
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*path_ranges(m, k, lo), (lo + k, lo + n)]
    return [*path_ranges(m - k, n - k, lo + k), (lo, lo + k)]


def proof_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs PROOF(m, D[n]) lists (none from the empty tree)."""
    if not 0 <= m <= n:
        raise ValueError("PROOF needs 0 <= m <= n")
    return subproof_ranges(m, n, True) if m else []


def subproof_ranges(m: int, n: int, b: bool, lo: int = 0) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs SUBPROOF(m, D[lo:lo+n], b) lists."""
    if m == n:
        return [] if b else [(lo, lo + n)]
    k = split_point(n)
    if m <= k:
        return [*subproof_ranges(m, k, b, lo), (lo + k, lo + n)]
    return [*subproof_ranges(m - k, n - k, False, lo + k), (lo, lo + k)]


def ranges_of(
    nodes: Sequence[tuple[int, int]], border: tuple[int, int] | None, at: int
) -> list[tuple[int, int]]:
    """The leaf ranges a proof names as complete subtrees (level, index), with a border range at
    position `at`: how chainproof's planners (`ProofNodes`) describe a proof."""
    ranges = [(index << level, (index + 1) << level) for level, index in nodes]
    if border is not None:
        ranges.insert(at, border)
    return ranges


def ct_tree() -> NaiveTree:
    return NaiveTree([bytes.fromhex(h) for h in CT_LEAVES_HEX])


# --- vector files -------------------------------------------------------------------------------

_ERR = "ProofError"


def _hx(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _inclusion_case(
    desc: str, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes, error: str | None
) -> dict[str, Any]:
    return {
        "desc": desc,
        "index": index,
        "size": size,
        "leaf_hash": leaf.hex(),
        "proof": _hx(proof),
        "root": root.hex(),
        "error": error,
    }


def _consistency_case(
    desc: str, old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes], error: str | None
) -> dict[str, Any]:
    return {
        "desc": desc,
        "old_size": old,
        "new_size": new,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": _hx(proof),
        "error": error,
    }


def _flip(h: bytes, byte: int, mask: int) -> bytes:
    return h[:byte] + bytes([h[byte] ^ mask]) + h[byte + 1 :]


# The inclusion and consistency proofs that CT's merkle_tree_test.cc and transparency-dev/merkle
# publish (0-based leaf indexes); `tampered_*` derives corrupted probes from each, as
# transparency-dev/merkle's testdata generator does.
PUBLISHED_INCLUSION: tuple[tuple[int, int], ...] = ((0, 1), (0, 8), (5, 8), (2, 3), (1, 5))
PUBLISHED_CONSISTENCY: tuple[tuple[int, int], ...] = ((1, 1), (1, 8), (6, 8), (2, 5), (6, 7))


def tampered_inclusion(t: NaiveTree, index: int, size: int) -> list[dict[str, Any]]:
    leaf, proof, root = t.leaf_hash(index), t.path(index, size), t.root(size)
    tag = f"leaf {index} of {size}"
    wrong_leaf = b"WrongLeaf"
    probes: list[tuple[str, int, int, bytes, list[bytes], bytes]] = [
        ("index minus 1", index - 1, size, leaf, proof, root),
        ("index plus 1", index + 1, size, leaf, proof, root),
        ("index xor 2", index ^ 2, size, leaf, proof, root),
        ("size times 2", index, size * 2, leaf, proof, root),
        ("size halved", index, size // 2, leaf, proof, root),
        ("wrong leaf (9 bytes)", index, size, wrong_leaf, proof, root),
        ("wrong leaf hash", index, size, sha256(b"\x00" + wrong_leaf), proof, root),
        ("leaf bit flipped", index, size, _flip(leaf, 31, 0x01), proof, root),
        ("empty-tree root", index, size, leaf, proof, EMPTY_TREE_HASH),
        ("random root", index, size, leaf, proof, SOME_HASH),
        ("root bit flipped", index, size, leaf, proof, _flip(root, 0, 0x80)),
        ("trailing garbage", index, size, leaf, [*proof, b""], root),
        ("trailing root", index, size, leaf, [*proof, root], root),
        ("preceding garbage", index, size, leaf, [b"", *proof], root),
        ("preceding root", index, size, leaf, [root, *proof], root),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = _flip(bad[i], 0, 8)
        probes.append((f"proof[{i}] bit 3 flipped", index, size, leaf, bad, root))
    if proof:
        probes.append(("removed last component", index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        probes.append(("inserted component", index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    return [_inclusion_case(f"{tag}: {d}", i, n, lf, p, r, _ERR) for d, i, n, lf, p, r in probes]


def tampered_consistency(t: NaiveTree, old: int, new: int) -> list[dict[str, Any]]:
    r1, r2, proof = t.root(old), t.root(new), t.proof(old, new)
    tag = f"{old} to {new}"
    wrong = b"WrongRoot"
    probes: list[tuple[str, int, int, bytes, bytes, list[bytes]]] = [
        ("old size minus 1", old - 1, new, r1, r2, proof),
        ("old size plus 1", old + 1, new, r1, r2, proof),
        ("old size xor 2", old ^ 2, new, r1, r2, proof),
        ("new size times 2", old, new * 2, r1, r2, proof),
        ("new size halved", old, new // 2, r1, r2, proof),
        ("wrong old root (9 bytes)", old, new, wrong, r2, proof),
        ("wrong new root (9 bytes)", old, new, r1, wrong, proof),
        ("wrong old root hash", old, new, sha256(wrong), r2, proof),
        ("wrong new root hash", old, new, r1, sha256(wrong), proof),
        ("old root bit flipped", old, new, _flip(r1, 5, 0x04), r2, proof),
        ("new root bit flipped", old, new, r1, _flip(r2, 5, 0x04), proof),
        ("swapped roots", old, new, r2, r1, proof),
        ("empty proof", old, new, r1, r2, []),
        ("trailing garbage", old, new, r1, r2, [*proof, b""]),
        ("trailing old root", old, new, r1, r2, [*proof, r1]),
        ("trailing new root", old, new, r1, r2, [*proof, r2]),
        ("preceding garbage", old, new, r1, r2, [b"", *proof]),
        ("preceding old root", old, new, r1, r2, [r1, *proof]),
        ("preceding new root", old, new, r1, r2, [r2, *proof]),
        ("preceding proof[0]", old, new, r1, r2, [proof[0], *proof]),
        ("truncated proof", old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = _flip(bad[i], 0, 16)
        probes.append((f"proof[{i}] bit 4 flipped", old, new, r1, r2, bad))
    return [_consistency_case(f"{tag}: {d}", m, n, a, b, p, _ERR) for d, m, n, a, b, p in probes]


def build_vectors() -> dict[str, Any]:
    """The three vector files, as JSON-ready objects keyed by file name."""
    t = ct_tree()
    n_leaves = len(t.leaves)
    roots = {
        "description": (
            "MTH(D[0:size]) of RFC 9162 2.1.1 for the 8 RFC 6962 test leaves of Certificate "
            "Transparency / transparency-dev (leaf data as hex). Computed by tests/unit/rfc6962_naive.py."
        ),
        "leaves": list(CT_LEAVES_HEX),
        "leaf_hashes": [t.leaf_hash(i).hex() for i in range(n_leaves)],
        "roots": [{"size": n, "root": t.root(n).hex()} for n in range(n_leaves + 1)],
    }

    inclusion: list[dict[str, Any]] = [
        _inclusion_case(f"leaf {i} of {n}: PATH", i, n, t.leaf_hash(i), t.path(i, n), t.root(n), None)
        for n in range(1, n_leaves + 1)
        for i in range(n)
    ]
    for i, n in PUBLISHED_INCLUSION:
        inclusion.extend(tampered_inclusion(t, i, n))
    data_hash = sha256(b"\x00" + b"data")
    inclusion += [
        _inclusion_case("single entry: matching root and leaf", 0, 1, data_hash, [], data_hash, None),
        _inclusion_case("single entry: empty leaf", 0, 1, b"", [], data_hash, _ERR),
        _inclusion_case("single entry: empty root", 0, 1, data_hash, [], b"", _ERR),
        _inclusion_case("single entry: empty root and leaf", 0, 1, b"", [], b"", _ERR),
    ]
    for i, n in ((0, 0), (0, 1), (1, 0), (2, 1)):
        inclusion += [
            _inclusion_case(f"static {i}/{n}: random leaf, empty root", i, n, SOME_HASH, [], b"", _ERR),
            _inclusion_case(f"static {i}/{n}: empty leaf", i, n, b"", [], EMPTY_TREE_HASH, _ERR),
            _inclusion_case(
                f"static {i}/{n}: empty-tree root and random leaf", i, n, SOME_HASH, [], EMPTY_TREE_HASH, _ERR
            ),
        ]

    consistency: list[dict[str, Any]] = [
        _consistency_case(f"{m} to {n}: PROOF", m, n, t.root(m), t.root(n), t.proof(m, n), None)
        for n in range(1, n_leaves + 1)
        for m in range(1, n + 1)
    ]
    for m, n in PUBLISHED_CONSISTENCY:
        if m != n:
            consistency.extend(tampered_consistency(t, m, n))
    a, b = sha256(b"don't care 1"), sha256(b"don't care 2")
    e = EMPTY_TREE_HASH
    consistency += [
        _consistency_case("static: sizes equal (0) but roots differ", 0, 0, a, b, [], _ERR),
        _consistency_case("static: sizes equal (1) but roots differ", 1, 1, a, b, [], _ERR),
        _consistency_case("static: sizes equal (0), same roots, empty proof", 0, 0, a, a, [], None),
        _consistency_case("static: size 0 is a prefix of any tree (empty proof)", 0, 1, a, b, [], None),
        _consistency_case("static: sizes equal (1), same roots, empty proof", 1, 1, b, b, [], None),
        _consistency_case("static: old size larger than new (1 > 0)", 1, 0, a, b, [], _ERR),
        _consistency_case("static: old size larger than new (2 > 1)", 2, 1, a, b, [], _ERR),
        _consistency_case("static: sizes differ and proof is empty", 1, 2, a, b, [], _ERR),
        _consistency_case("static: roots differ at size 0", 0, 0, e, b, [], _ERR),
        _consistency_case("static: roots differ at size 1", 1, 1, e, b, [], _ERR),
        _consistency_case("static: non-empty proof at equal sizes 0", 0, 0, e, e, [e], _ERR),
        _consistency_case("static: non-empty proof at equal sizes 1", 1, 1, e, e, [e], _ERR),
        _consistency_case("static: non-empty proof from the empty tree", 0, 1, e, e, [e], _ERR),
        _consistency_case("static: 9-byte roots at equal sizes", 1, 1, b"dontcare1", b"dontcare1", [], _ERR),
    ]
    return {
        "roots.json": roots,
        "inclusion.json": {
            "description": (
                "Inclusion proofs PATH(index, D[size]) over the leaves of roots.json (0-based index), "
                "then corrupted probes in the manner of transparency-dev/merkle's testdata. "
                "error is null when the proof must verify, else the exception it must raise."
            ),
            "cases": inclusion,
        },
        "consistency.json": {
            "description": (
                "Consistency proofs PROOF(old_size, D[new_size]) over the leaves of roots.json, then "
                "corrupted probes in the manner of transparency-dev/merkle's testdata. "
                "error is null when the proof must verify, else the exception it must raise."
            ),
            "cases": consistency,
        },
    }


def dump(obj: object) -> str:
    return json.dumps(obj, indent=2) + "\n"


def main(argv: Sequence[str]) -> int:
    vectors = build_vectors()
    if "--write" not in argv:
        for name, obj in vectors.items():
            current = (VECTOR_DIR / name).read_text(encoding="utf-8") if (VECTOR_DIR / name).exists() else ""
            print(f"{name}: {'up to date' if current == dump(obj) else 'differs (run with --write)'}")
        return 0
    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, obj in vectors.items():
        (VECTOR_DIR / name).write_text(dump(obj), encoding="utf-8")
        print(f"wrote {VECTOR_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
