"""Tests of chainproof.log.binding: proofs bound to C2SP checkpoints, CT tree heads and the
checkpoint a Sigstore entry carries, and every way a binding fails."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chainproof.attest import keys
from chainproof.errors import FormatError, UsageError, VerificationError
from chainproof.log import binding, ct
from chainproof.log.binding import (
    Bound,
    CheckpointMismatch,
    MissingVerifier,
    NoCheckpoint,
    NotAConsistencyProof,
)
from chainproof.log.ct import TreeHeadError
from chainproof.log.merkle import ProofError
from chainproof.log.note import Checkpoint, NoteError, NoteSigner, NoteVerifier
from chainproof.log.proofs import ConsistencyProof, InclusionProof

from .rfc6962_naive import ct_tree

ORIGIN = "binding.example/log"
TREE = ct_tree()
VECTORS = Path(__file__).parents[1] / "vectors" / "logs"
CT = json.loads((VECTORS / "ct-argon2027h1.json").read_text())
REKOR_ENTRY = json.loads((VECTORS / "rekor-v2-entry.json").read_text())
REKOR_KEY = json.loads((VECTORS / "rekor-v2-key.json").read_text())
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, keys.generate())


def _checkpoint(signer: NoteSigner, size: int, root: bytes | None = None) -> str:
    return signer.sign(Checkpoint(signer.name, size, TREE.root(size) if root is None else root).body())


def _inclusion(index: int, size: int) -> InclusionProof:
    return InclusionProof(index, size, TREE.leaf_hash(index), TREE.root(size), tuple(TREE.path(index, size)))


def _consistency(old: int, new: int) -> ConsistencyProof:
    return ConsistencyProof(old, new, TREE.root(old), TREE.root(new), tuple(TREE.proof(old, new)))


def _rekor_vkey() -> str:
    spki = base64.b64decode(REKOR_KEY["public_key_spki"])
    raw = spki[len(ED25519_SPKI_PREFIX) :]
    return NoteVerifier(REKOR_KEY["name"], Ed25519PublicKey.from_public_bytes(raw)).vkey


# -- C2SP checkpoints -----------------------------------------------------------------------------


def test_an_inclusion_proof_bound_to_its_checkpoint(signer: NoteSigner) -> None:
    proof = _inclusion(5, 8)
    bound = binding.bind(proof, checkpoint=_checkpoint(signer, 8), verifier=signer.verifier.vkey)
    assert bound.checkpoint == Checkpoint(ORIGIN, 8, TREE.root(8))
    assert bound.old_checkpoint is None
    assert bound.to_json() == {
        "valid": True,
        **proof.to_json(),
        "checkpoint": {"origin": ORIGIN, "tree_size": 8},
    }


def test_a_parsed_verifier_key_binds_as_its_text_does(signer: NoteSigner) -> None:
    proof = _inclusion(1, 5)
    by_text = binding.bind(proof, checkpoint=_checkpoint(signer, 5), verifier=signer.verifier.vkey)
    by_value = binding.bind(proof, checkpoint=_checkpoint(signer, 5), verifier=signer.verifier)
    assert by_text == by_value


def test_without_a_checkpoint_the_proof_is_verified_but_unbound() -> None:
    proof = _inclusion(3, 8)
    bound = binding.bind(proof)
    assert (bound.checkpoint, bound.old_checkpoint, bound.signed) == (None, None, ())
    assert bound.to_json() == {"valid": True, **proof.to_json()}
    with pytest.raises(ProofError):
        binding.bind(InclusionProof(3, 8, TREE.leaf_hash(4), TREE.root(8), tuple(TREE.path(3, 8))))


def test_a_checkpoint_of_another_size_does_not_bind(signer: NoteSigner) -> None:
    with pytest.raises(CheckpointMismatch) as caught:
        binding.bind(_inclusion(1, 8), checkpoint=_checkpoint(signer, 5), verifier=signer.verifier)
    message = str(caught.value)
    assert message.startswith(f"the proof is for size 8, root {TREE.root(8).hex()}; ")
    assert message.endswith(f"the checkpoint says size 5, root {TREE.root(5).hex()}")


def test_a_checkpoint_of_the_same_size_and_another_root_does_not_bind(signer: NoteSigner) -> None:
    """A fork: the log signed another tree of the same size. The root is compared, not only the size."""
    forked = _checkpoint(signer, 8, TREE.root(7))
    with pytest.raises(CheckpointMismatch, match="the checkpoint says size 8"):
        binding.bind(_inclusion(1, 8), checkpoint=forked, verifier=signer.verifier)


def test_a_checkpoint_must_verify_under_the_key(signer: NoteSigner) -> None:
    other = NoteSigner(ORIGIN, keys.generate())
    with pytest.raises(NoteError, match=f"no signature by {ORIGIN}"):
        binding.bind(_inclusion(1, 8), checkpoint=_checkpoint(other, 8), verifier=signer.verifier)
    forged = _checkpoint(signer, 8).replace("\n8\n", "\n9\n")
    with pytest.raises(NoteError, match="does not verify"):
        binding.bind(_inclusion(1, 8), checkpoint=forged, verifier=signer.verifier)


def test_the_checkpoint_is_checked_before_the_proof(signer: NoteSigner) -> None:
    """A head that speaks of another tree is the more telling error than hashes that disagree."""
    broken = InclusionProof(1, 8, TREE.leaf_hash(2), TREE.root(8), tuple(TREE.path(1, 8)))
    with pytest.raises(CheckpointMismatch):
        binding.bind(broken, checkpoint=_checkpoint(signer, 5), verifier=signer.verifier)
    with pytest.raises(ProofError):
        binding.bind(broken, checkpoint=_checkpoint(signer, 8), verifier=signer.verifier)


def test_a_checkpoint_without_a_verifier_is_a_usage_error(signer: NoteSigner) -> None:
    with pytest.raises(MissingVerifier) as caught:
        binding.bind(_inclusion(1, 8), checkpoint=_checkpoint(signer, 8))
    assert isinstance(caught.value, UsageError)
    assert not isinstance(caught.value, VerificationError)
    with pytest.raises(MissingVerifier):
        binding.bind(_consistency(2, 8), old_checkpoint=_checkpoint(signer, 2))


def test_a_consistency_proof_bound_at_both_ends(signer: NoteSigner) -> None:
    proof = _consistency(2, 8)
    bound = binding.bind(
        proof,
        old_checkpoint=_checkpoint(signer, 2),
        checkpoint=_checkpoint(signer, 8),
        verifier=signer.verifier,
    )
    assert [name for name, _ in bound.signed] == ["old_checkpoint", "checkpoint"]
    obj = bound.to_json()
    assert list(obj)[-2:] == ["old_checkpoint", "checkpoint"]
    assert obj["old_checkpoint"] == {"origin": ORIGIN, "tree_size": 2}
    assert obj["checkpoint"] == {"origin": ORIGIN, "tree_size": 8}
    old_only = binding.bind(proof, old_checkpoint=_checkpoint(signer, 2), verifier=signer.verifier)
    assert old_only.checkpoint is None
    assert old_only.old_checkpoint == Checkpoint(ORIGIN, 2, TREE.root(2))


def test_swapped_or_wrong_old_checkpoints_do_not_bind(signer: NoteSigner) -> None:
    proof = _consistency(2, 8)
    with pytest.raises(CheckpointMismatch, match=r"^the proof's old tree is size 2, .* says size 8"):
        binding.bind(
            proof,
            old_checkpoint=_checkpoint(signer, 8),
            checkpoint=_checkpoint(signer, 2),
            verifier=signer.verifier,
        )
    with pytest.raises(CheckpointMismatch, match=r"^the proof's old tree is size 2, .* says size 5"):
        binding.bind(proof, old_checkpoint=_checkpoint(signer, 5), verifier=signer.verifier)
    with pytest.raises(CheckpointMismatch, match=r"^the proof is for size 8, .* says size 5"):
        binding.bind(proof, checkpoint=_checkpoint(signer, 5), verifier=signer.verifier)


def test_an_old_checkpoint_needs_a_consistency_proof(signer: NoteSigner) -> None:
    with pytest.raises(NotAConsistencyProof) as caught:
        binding.bind(_inclusion(1, 8), old_checkpoint=_checkpoint(signer, 2), verifier=signer.verifier)
    assert not isinstance(caught.value, VerificationError)


# -- Certificate Transparency ---------------------------------------------------------------------


def _ct_proof() -> ConsistencyProof:
    old, new = CT["get-sth"]
    return ConsistencyProof(
        old["tree_size"],
        new["tree_size"],
        base64.b64decode(old["sha256_root_hash"]),
        base64.b64decode(new["sha256_root_hash"]),
        tuple(base64.b64decode(h) for h in CT["get-sth-consistency"]["consistency"]),
    )


def test_a_ct_tree_head_is_named_by_its_log_id() -> None:
    old, _ = CT["get-sth"]
    head = binding.signed_tree(json.dumps(old), CT["log"]["key"])
    assert head == Checkpoint(
        f"CT log {CT['log']['log_id']}", old["tree_size"], base64.b64decode(old["sha256_root_hash"])
    )
    assert binding.signed_tree(json.dumps(old), ct.parse_log_key(CT["log"]["key"])) == head


def test_a_ct_consistency_proof_bound_to_both_tree_heads() -> None:
    old, new = (json.dumps(sth) for sth in CT["get-sth"])
    key = CT["log"]["key"]
    bound = binding.bind(_ct_proof(), old_checkpoint=old, checkpoint=new, verifier=key)
    assert bound.old_checkpoint is not None
    assert bound.checkpoint is not None
    assert (bound.old_checkpoint.size, bound.checkpoint.size) == (384_065_451, 384_071_894)
    with pytest.raises(CheckpointMismatch, match="the proof's old tree is size 384065451"):
        binding.bind(_ct_proof(), old_checkpoint=new, checkpoint=old, verifier=key)


def test_ct_tree_heads_that_do_not_verify() -> None:
    _, new = CT["get-sth"]
    later = json.dumps({**new, "timestamp": new["timestamp"] + 1})
    with pytest.raises(TreeHeadError, match="does not verify"):
        binding.bind(_ct_proof(), checkpoint=later, verifier=CT["log"]["key"])


def test_a_key_of_the_wrong_kind_is_refused() -> None:
    sth = json.dumps(CT["get-sth"][1])
    note_key = NoteSigner(ORIGIN, keys.generate()).verifier
    with pytest.raises(FormatError, match="needs the log's key"):
        binding.signed_tree(sth, note_key)
    with pytest.raises(FormatError, match="needs the log's key"):
        binding.signed_tree(sth, note_key.vkey)
    checkpoint = _checkpoint(NoteSigner(ORIGIN, keys.generate()), 8)
    with pytest.raises(FormatError, match="not a CT log key"):
        binding.signed_tree(checkpoint, ct.parse_log_key(CT["log"]["key"]))
    with pytest.raises(FormatError, match="NAME\\+HASH\\+BASE64"):
        binding.signed_tree(checkpoint, CT["log"]["key"])


# -- proofs read from JSON, and Sigstore's carried checkpoint -------------------------------------


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(json.dumps(REKOR_ENTRY))
    entry["inclusionProof"].update(changes)
    return entry


def test_a_sigstore_entry_is_bound_to_the_checkpoint_it_carries() -> None:
    bound = binding.verify_proof(REKOR_ENTRY, verifier=_rekor_vkey())
    assert isinstance(bound.proof, InclusionProof)
    assert (bound.proof.index, bound.proof.tree_size) == (645, 646)
    assert bound.checkpoint is not None
    assert (bound.checkpoint.origin, bound.checkpoint.size) == (REKOR_KEY["name"], 646)
    unbound = binding.verify_proof(REKOR_ENTRY)
    assert unbound.checkpoint is None


def test_a_carried_checkpoint_must_verify_and_match() -> None:
    envelope = REKOR_ENTRY["inclusionProof"]["checkpoint"]["envelope"]
    with pytest.raises(NoteError):
        binding.verify_proof(
            _entry(checkpoint={"envelope": envelope.replace("\n646\n", "\n647\n")}), verifier=_rekor_vkey()
        )
    with pytest.raises(NoteError, match="no signature by"):
        binding.verify_proof(REKOR_ENTRY, verifier=NoteSigner(REKOR_KEY["name"], keys.generate()).verifier)
    other_root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(CheckpointMismatch):
        binding.verify_proof(_entry(rootHash=other_root), verifier=_rekor_vkey())


def test_a_verifier_with_nothing_to_verify_is_a_usage_error() -> None:
    bare = _entry()
    del bare["inclusionProof"]["checkpoint"]
    with pytest.raises(NoCheckpoint):
        binding.verify_proof(bare, verifier=_rekor_vkey())
    with pytest.raises(NoCheckpoint):
        binding.verify_proof(_inclusion(1, 8).to_json(), verifier=_rekor_vkey())


def test_a_given_checkpoint_replaces_the_carried_one(signer: NoteSigner) -> None:
    """The carried checkpoint is used only when none is given: a given one is what the caller trusts."""
    with pytest.raises(CheckpointMismatch):
        binding.verify_proof(REKOR_ENTRY, checkpoint=_checkpoint(signer, 8), verifier=signer.verifier)


def test_the_raw_leaf_replaces_the_leaf_hash(signer: NoteSigner) -> None:
    document = {**_inclusion(5, 8).to_json(), "leaf_hash": TREE.leaf_hash(4).hex()}
    bound = binding.verify_proof(document, leaf=TREE.leaves[5])
    assert isinstance(bound.proof, InclusionProof)
    assert bound.proof.leaf_hash == TREE.leaf_hash(5)
    with pytest.raises(ProofError):
        binding.verify_proof(document)
    with pytest.raises(ProofError):
        binding.verify_proof(_inclusion(5, 8).to_json(), leaf=TREE.leaves[5] + b" ")


def test_bound_is_a_frozen_value() -> None:
    bound = Bound(proof=_inclusion(0, 1))
    with pytest.raises(AttributeError):
        bound.checkpoint = None  # type: ignore[misc]
