"""Auditor tools for any RFC 9162 / C2SP log: `verify-proof` and `verify-note`."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof._internal import untrusted_json
from chainproof.cli.output import JsonOption, emit, read_input
from chainproof.errors import FormatError, UsageError, VerificationError
from chainproof.log import merkle, proofs
from chainproof.log.note import Checkpoint, open_note, parse_checkpoint, parse_vkey
from chainproof.log.proofs import ConsistencyProof, InclusionProof


def verify_proof(
    file: Annotated[str, typer.Argument(help="JSON of an inclusion or consistency proof; - is stdin.")],
    leaf: Annotated[
        Path | None, typer.Option("--leaf", help="The raw leaf; its hash replaces the proof's leaf_hash.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A signed checkpoint whose size and root the proof must match."),
    ] = None,
    old_checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--old-checkpoint",
            help="For a consistency proof: a signed checkpoint whose size and root must be the "
            "proof's old ones.",
        ),
    ] = None,
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey",
            help="Verifier key of the checkpoints: those given with --checkpoint and "
            "--old-checkpoint, or the one a Sigstore entry carries. For a CT log's signed tree "
            "heads (get-sth JSON), the log's key: base64 of its DER SubjectPublicKeyInfo.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify an RFC 9162 inclusion or consistency proof (hex or base64 hashes); exit 0 if valid.

    Reads chainproof's `log prove` / `log consistency` JSON, the field names of Certificate
    Transparency, Trillian and Rekor proofs, and a Sigstore bundle's transparency-log entry (or a
    bundle with one entry): its leaf is the entry's canonicalizedBody, and with --vkey its
    checkpoint must verify and match the proof. With --old-checkpoint and --checkpoint, a
    consistency proof shows that one signed checkpoint extends the other, as a monitor checks.
    """
    try:
        obj = untrusted_json.loads(read_input(file))
    except ValueError as e:
        raise FormatError(f"{file}: not JSON ({e})") from None
    proof = proofs.parse(obj, merkle.leaf_hash(read_input(str(leaf))) if leaf is not None else None)
    bound = _checkpoints(proof, obj, checkpoint, old_checkpoint, vkey)
    proof.verify()
    if isinstance(proof, InclusionProof):
        lines = [
            f"valid: leaf {proof.index} is in the tree of size {proof.tree_size} "
            f"(root {proof.root_hash.hex()})"
        ]
    else:
        lines = [f"valid: the tree of size {proof.old_size} is a prefix of the tree of size {proof.new_size}"]
    lines += [f"signed checkpoint of {cp.origin}: size {cp.size}, the same root" for cp in bound.values()]
    if "checkpoint" not in bound:
        lines.append(_UNBOUND_OLD if bound else _UNBOUND)
    result = {"valid": True, **proof.to_json()}
    result |= {name: {"origin": cp.origin, "tree_size": cp.size} for name, cp in bound.items()}
    emit(as_json, result, lines)


# A proof carries its own root: without a signed checkpoint, verifying it shows only that its
# hashes agree with one another, not that the log ever committed to that tree.
_UNBOUND = (
    "not bound to a signed checkpoint: the proof was checked only against itself "
    "(give --checkpoint NOTE --vkey VKEY to bind it)"
)
_UNBOUND_OLD = (
    "the new tree is not bound to a signed checkpoint: only the old one is "
    "(give --checkpoint NOTE as well to bind it)"
)


def _tree(proof: InclusionProof | ConsistencyProof) -> tuple[int, bytes]:
    """The size and root of the tree a proof is about (the new one of a consistency proof)."""
    if isinstance(proof, InclusionProof):
        return proof.tree_size, proof.root_hash
    return proof.new_size, proof.new_root


def _checkpoints(
    proof: InclusionProof | ConsistencyProof,
    obj: object,
    checkpoint: Path | None,
    old_checkpoint: Path | None,
    vkey: str | None,
) -> dict[str, Checkpoint]:
    """The signed checkpoints the proof is bound to, each verified, by their JSON names."""
    bound: dict[str, Checkpoint] = {}
    if old_checkpoint is not None:
        if not isinstance(proof, ConsistencyProof):
            raise UsageError("--old-checkpoint is for consistency proofs")
        old = _note(old_checkpoint)
        bound["old_checkpoint"] = _bind(proof.old_size, proof.old_root, old, vkey, "the proof's old tree is")
    if checkpoint is not None:
        bound["checkpoint"] = _bind(*_tree(proof), _note(checkpoint), vkey, "the proof is for")
    elif vkey is not None and old_checkpoint is None:
        carried = proofs.embedded_checkpoint(obj)
        if carried is None:
            raise UsageError("--vkey needs --checkpoint, or a proof that carries its checkpoint")
        bound["checkpoint"] = _bind(*_tree(proof), carried, vkey, "the proof is for")
    return bound


def _signed_tree(text: str, vkey: str) -> Checkpoint:
    """A C2SP checkpoint, or a CT signed tree head (named by its log id), once its signature verifies."""
    from chainproof.log import ct

    if not ct.looks_like_sth(text):
        return parse_checkpoint(open_note(text, parse_vkey(vkey)))
    key = ct.parse_log_key(vkey)
    sth = ct.parse_sth(text)
    ct.verify_sth(sth, key)
    return Checkpoint(f"CT log {base64.b64encode(ct.log_id(key)).decode()}", sth.tree_size, sth.root)


def _note(path: Path) -> str:
    return read_input(str(path)).decode("utf-8", errors="replace")


def _bind(size: int, root: bytes, text: str, vkey: str | None, claim: str) -> Checkpoint:
    """The checkpoint in `text`, verified with `vkey`, once its size and root are these."""
    if vkey is None:
        raise UsageError("a checkpoint needs --vkey to verify it")
    cp = _signed_tree(text, vkey)
    if (size, root) != (cp.size, cp.root):
        raise VerificationError(
            f"{claim} size {size}, root {root.hex()}; "
            f"the checkpoint says size {cp.size}, root {cp.root.hex()}"
        )
    return cp


def verify_note(
    file: Annotated[str, typer.Argument(help="The signed note; - is stdin.")],
    vkey: Annotated[str, typer.Option("--vkey", help="The verifier key: NAME+HASH+BASE64.")],
    as_json: JsonOption = False,
) -> None:
    """Verify a C2SP signed note (e.g. a checkpoint) against a verifier key; print its body."""
    try:
        text = read_input(file).decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{file}: a note must be UTF-8 text") from None
    body = open_note(text, parse_vkey(vkey))
    if as_json:
        emit(True, {"valid": True, "body": body})
    else:
        sys.stdout.write(body)
        sys.stdout.flush()
