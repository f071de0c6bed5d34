"""An in-memory log for the witness tests: leaves, roots, consistency proofs computed by an
independent reference (RFC 9162 SUBPROOF written out plainly), and signed checkpoints."""

from __future__ import annotations

from chainproof.attest import keys
from chainproof.log import merkle
from chainproof.log.note import Checkpoint, NoteSigner
from chainproof.witness.protocol import AddCheckpoint

ORIGIN = "log.test/witnessed"


def _root(hashes: list[bytes]) -> bytes:
    return merkle.root_of_leaf_hashes(hashes) if hashes else merkle.EMPTY_ROOT


def _subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF, written out plainly as an independent reference."""
    n = len(hashes)
    if m == n:
        return [] if whole else [_root(hashes)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*_subproof(m, hashes[:k], whole), _root(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _root(hashes[:k])]


def proof(old: int, hashes: list[bytes]) -> tuple[bytes, ...]:
    return tuple(_subproof(old, hashes, True)) if 0 < old < len(hashes) else ()


class Log:
    def __init__(self, key: NoteSigner | None = None, tag: bytes = b"") -> None:
        self.signer = key or NoteSigner(ORIGIN, keys.generate())
        self.hashes: list[bytes] = []
        self.tag = tag

    def grow(self, n: int) -> Log:
        self.hashes += [merkle.leaf_hash(self.tag + b"%d" % (len(self.hashes) + i)) for i in range(n)]
        return self

    def copy(self, tag: bytes) -> Log:
        other = Log(self.signer, tag)
        other.hashes = list(self.hashes)
        return other

    def note(self) -> str:
        return self.signer.sign(Checkpoint(self.signer.name, len(self.hashes), _root(self.hashes)).body())

    def request(self, old: int) -> AddCheckpoint:
        return AddCheckpoint(old, proof(old, self.hashes), self.note())
