"""Binding a proof to the signed tree heads of its log: what `verify-proof` checks, as values.

A proof carries its own root, so verifying it alone shows only that its hashes agree with one
another, not that the log ever committed to that tree. Binding it to a tree head the log signed
(a C2SP checkpoint, or a Certificate Transparency signed tree head) closes that gap: the head's
signature must verify under the log's key, and its size and root must be the proof's. A
consistency proof can be bound at both ends, which shows that one signed head extends the other,
as a monitor checks.

Pure: every input is text or a value already read; nothing here opens a file.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from chainproof.errors import FormatError, UsageError, VerificationError
from chainproof.log import merkle, proofs
from chainproof.log.note import Checkpoint, NoteVerifier, parse_vkey, verify_checkpoint
from chainproof.log.proofs import ConsistencyProof, InclusionProof

if TYPE_CHECKING:
    from chainproof.log.ct import LogKey

    Verifier: TypeAlias = str | NoteVerifier | LogKey
    """A log's key: a C2SP verifier key (`NAME+HASH+BASE64`, or parsed), or a CT log's key (base64
    of its DER SubjectPublicKeyInfo, or loaded). A string is read as the kind of head it checks."""

# CT is imported where a tree head needs it: its RSA and ECDSA stack (about 3 ms) is not worth
# loading for the C2SP checkpoints most calls bind to.

Proof: TypeAlias = InclusionProof | ConsistencyProof


class CheckpointMismatch(VerificationError):
    """A signed tree head verifies, but names another size or root than the proof's."""


class MissingVerifier(UsageError):
    """A tree head was given without the key to verify it."""


class NoCheckpoint(UsageError):
    """A key was given with nothing to verify: no tree head, and no proof that carries one."""


class NotAConsistencyProof(UsageError):
    """An old tree head was given for an inclusion proof, which has only one tree."""


@dataclass(frozen=True, kw_only=True)
class Bound:
    """A proof that verified, with the signed tree heads it was bound to (each verified too)."""

    proof: Proof
    checkpoint: Checkpoint | None = None
    """The tree head of the proof's tree (a consistency proof's new one); None when unbound."""
    old_checkpoint: Checkpoint | None = None
    """The tree head of a consistency proof's old tree, when one was given."""

    @property
    def signed(self) -> tuple[tuple[str, Checkpoint], ...]:
        """The tree heads bound, by their JSON names: the old one first, as the proof reads."""
        named = (("old_checkpoint", self.old_checkpoint), ("checkpoint", self.checkpoint))
        return tuple((name, cp) for name, cp in named if cp is not None)

    def to_json(self) -> dict[str, Any]:
        """`{"valid": true, ...the proof, "old_checkpoint", "checkpoint"}`, each tree head as
        `{"origin", "tree_size"}` and present only when bound."""
        out: dict[str, Any] = {"valid": True, **self.proof.to_json()}
        out |= {name: {"origin": cp.origin, "tree_size": cp.size} for name, cp in self.signed}
        return out


def signed_tree(text: str, verifier: Verifier) -> Checkpoint:
    """The tree head in `text` once its signature verifies: a C2SP checkpoint, or a CT log's
    `get-sth` JSON (then named `CT log <base64 log id>`, as a CT tree head has no origin)."""
    from chainproof.log import ct  # noqa: PLC0415 - see above: notes need none of CT's stack

    if not ct.looks_like_sth(text):
        note_key = parse_vkey(verifier) if isinstance(verifier, str) else verifier
        if not isinstance(note_key, NoteVerifier):
            raise FormatError("a checkpoint needs the log's verifier key NAME+HASH+BASE64, not a CT log key")
        return verify_checkpoint(text, note_key)
    key = ct.parse_log_key(verifier) if isinstance(verifier, str) else verifier
    if isinstance(key, NoteVerifier):
        raise FormatError("a CT tree head needs the log's key: base64 of its DER SubjectPublicKeyInfo")
    sth = ct.parse_sth(text)
    ct.verify_sth(sth, key)
    return Checkpoint(f"CT log {base64.b64encode(ct.log_id(key)).decode()}", sth.tree_size, sth.root)


def bind(
    proof: Proof,
    *,
    checkpoint: str | None = None,
    old_checkpoint: str | None = None,
    verifier: Verifier | None = None,
) -> Bound:
    """Bind `proof` to the signed tree heads given (as text), then verify the proof itself.

    `checkpoint` is the head of the proof's tree (a consistency proof's new one), `old_checkpoint`
    that of a consistency proof's old tree; `verifier` checks both. Raises `CheckpointMismatch`
    when a head names another size or root, the signature errors of notes and CT tree heads
    (`NoteError`, `TreeHeadError`, `FormatError`) when one does not verify, `merkle.ProofError`
    when the proof's hashes do not lead to its root, and a `UsageError` (`MissingVerifier`,
    `NotAConsistencyProof`) for a request that cannot be met. Heads are checked before the
    proof's hashes: a head that speaks of another tree is the more telling error.
    """
    old = None
    if old_checkpoint is not None:
        if not isinstance(proof, ConsistencyProof):
            raise NotAConsistencyProof("an old checkpoint binds only a consistency proof")
        old = _bind(proof.old_size, proof.old_root, old_checkpoint, verifier, "the proof's old tree is")
    new = None
    if checkpoint is not None:
        new = _bind(*_tree(proof), checkpoint, verifier, "the proof is for")
    proof.verify()
    return Bound(proof=proof, checkpoint=new, old_checkpoint=old)


def verify_proof(
    document: object,
    *,
    leaf: bytes | None = None,
    checkpoint: str | None = None,
    old_checkpoint: str | None = None,
    verifier: Verifier | None = None,
) -> Bound:
    """Read a proof from its JSON (any dialect `proofs.parse` reads) and `bind` it.

    `leaf`, the raw leaf, replaces the leaf hash the JSON carries. A Sigstore entry carries its
    log's checkpoint: with a `verifier` and no tree head given, the proof is bound to that one, and
    `NoCheckpoint` is raised when the document carries none.
    """
    proof = proofs.parse(document, merkle.leaf_hash(leaf) if leaf is not None else None)
    if checkpoint is None and old_checkpoint is None and verifier is not None:
        checkpoint = proofs.embedded_checkpoint(document)
        if checkpoint is None:
            raise NoCheckpoint("a verifier key needs a checkpoint, and the proof carries none")
    return bind(proof, checkpoint=checkpoint, old_checkpoint=old_checkpoint, verifier=verifier)


def _tree(proof: Proof) -> tuple[int, bytes]:
    """The size and root of the tree a proof is about (the new one of a consistency proof)."""
    if isinstance(proof, InclusionProof):
        return proof.tree_size, proof.root_hash
    return proof.new_size, proof.new_root


def _bind(size: int, root: bytes, text: str, verifier: Verifier | None, claim: str) -> Checkpoint:
    """The tree head in `text`, verified, once its size and root are these."""
    if verifier is None:
        raise MissingVerifier("a checkpoint needs a verifier key to verify it")
    cp = signed_tree(text, verifier)
    if (size, root) != (cp.size, cp.root):
        raise CheckpointMismatch(
            f"{claim} size {size}, root {root.hex()}; "
            f"the checkpoint says size {cp.size}, root {cp.root.hex()}"
        )
    return cp
