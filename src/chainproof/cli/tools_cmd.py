"""Auditor tools for any RFC 9162 / C2SP log: `verify-proof` and `verify-note`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

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
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey",
            help="Verifier key of the checkpoint: the one given with --checkpoint, or the one a "
            "Sigstore entry carries.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Verify an RFC 9162 inclusion or consistency proof (hex or base64 hashes); exit 0 if valid.

    Reads chainproof's `log prove` / `log consistency` JSON, the field names of Certificate
    Transparency, Trillian and Rekor proofs, and a Sigstore bundle's transparency-log entry (or a
    bundle with one entry): its leaf is the entry's canonicalizedBody, and with --vkey its
    checkpoint must verify and match the proof.
    """
    try:
        obj = json.loads(read_input(file))
    except ValueError as e:
        raise FormatError(f"{file}: not JSON ({e})") from None
    proof = proofs.parse(obj, merkle.leaf_hash(read_input(str(leaf))) if leaf is not None else None)
    cp: Checkpoint | None = None
    if checkpoint is not None:
        cp = _match_checkpoint(proof, read_input(str(checkpoint)).decode("utf-8", errors="replace"), vkey)
    elif vkey is not None:
        carried = proofs.embedded_checkpoint(obj)
        if carried is None:
            raise UsageError("--vkey needs --checkpoint, or a proof that carries its checkpoint")
        cp = _match_checkpoint(proof, carried, vkey)
    proof.verify()
    if isinstance(proof, InclusionProof):
        lines = [
            f"valid: leaf {proof.index} is in the tree of size {proof.tree_size} "
            f"(root {proof.root_hash.hex()})"
        ]
    else:
        lines = [f"valid: the tree of size {proof.old_size} is a prefix of the tree of size {proof.new_size}"]
    result = {"valid": True, **proof.to_json()}
    if cp is not None:
        lines.append(f"signed checkpoint of {cp.origin}: size {cp.size}, the same root")
        result["checkpoint"] = {"origin": cp.origin, "tree_size": cp.size}
    emit(as_json, result, lines)


def _match_checkpoint(proof: InclusionProof | ConsistencyProof, text: str, vkey: str | None) -> Checkpoint:
    """The checkpoint in `text`, verified with `vkey`, once its size and root are the proof's."""
    if vkey is None:
        raise UsageError("--checkpoint needs --vkey to verify it")
    cp = parse_checkpoint(open_note(text, parse_vkey(vkey)))
    size, root = (
        (proof.tree_size, proof.root_hash)
        if isinstance(proof, InclusionProof)
        else (proof.new_size, proof.new_root)
    )
    if (size, root) != (cp.size, cp.root):
        raise VerificationError(
            f"the proof is for size {size}, root {root.hex()}; the checkpoint says "
            f"size {cp.size}, root {cp.root.hex()}"
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
