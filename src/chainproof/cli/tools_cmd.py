"""Auditor tools for any RFC 9162 / C2SP log: `verify-proof` and `verify-note`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof._internal import untrusted_json
from chainproof.cli.output import JsonOption, emit, read_input
from chainproof.errors import FormatError, UsageError
from chainproof.log import binding
from chainproof.log.note import open_note, parse_vkey
from chainproof.log.proofs import InclusionProof


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
    raw_leaf = read_input(str(leaf)) if leaf is not None else None
    old_text = _note(old_checkpoint) if old_checkpoint is not None else None
    new_text = _note(checkpoint) if checkpoint is not None else None
    # The library's usage errors speak of keys and checkpoints; here they name the options.
    try:
        bound = binding.verify_proof(
            obj, leaf=raw_leaf, checkpoint=new_text, old_checkpoint=old_text, verifier=vkey
        )
    except binding.MissingVerifier:
        raise UsageError("a checkpoint needs --vkey to verify it") from None
    except binding.NoCheckpoint:
        raise UsageError("--vkey needs --checkpoint, or a proof that carries its checkpoint") from None
    except binding.NotAConsistencyProof:
        raise UsageError("--old-checkpoint is for consistency proofs") from None
    emit(as_json, bound.to_json(), _lines(bound))


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


def _lines(bound: binding.Bound) -> list[str]:
    proof = bound.proof
    if isinstance(proof, InclusionProof):
        lines = [
            f"valid: leaf {proof.index} is in the tree of size {proof.tree_size} "
            f"(root {proof.root_hash.hex()})"
        ]
    else:
        lines = [f"valid: the tree of size {proof.old_size} is a prefix of the tree of size {proof.new_size}"]
    lines += [f"signed checkpoint of {cp.origin}: size {cp.size}, the same root" for _, cp in bound.signed]
    if bound.checkpoint is None:
        lines.append(_UNBOUND_OLD if bound.old_checkpoint is not None else _UNBOUND)
    return lines


def _note(path: Path) -> str:
    return read_input(str(path)).decode("utf-8", errors="replace")


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
