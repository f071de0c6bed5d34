"""`chainproof attest`: sign an in-toto Statement v1 into a DSSE envelope."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof._internal.config import max_entry_bytes
from chainproof._internal.text import plural
from chainproof.attest import keys, signing
from chainproof.attest.statement import parse_subject_arg
from chainproof.cli.output import JsonOption, emit, passphrase_from, read_input
from chainproof.errors import UsageError


def attest(
    key: Annotated[Path, typer.Option("--key", help="The signer's PKCS#8 PEM private key.")],
    predicate_type: Annotated[str, typer.Option("--type", help="The predicateType URI.")],
    subject: Annotated[
        list[str], typer.Option("--subject", help="NAME=sha256:HEX; repeat for several subjects.")
    ],
    predicate: Annotated[
        str, typer.Option("--predicate", help="A file holding the predicate JSON object, or - for stdin.")
    ],
    out: Annotated[str, typer.Option("--out", help="Where to write the envelope (- for stdout).")],
    passphrase_env: Annotated[
        str | None,
        typer.Option("--passphrase-env", metavar="VAR", help="Env variable holding the key's passphrase."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Sign a statement about SUBJECTs with KEY; the envelope is one line of canonical JSON."""
    signer = keys.read_private(key, passphrase_from(passphrase_env))
    limit = max_entry_bytes()
    body = signing.parse_predicate(read_input(predicate, limit))
    try:
        signed = signing.sign_attestation(
            key=signer,
            subjects=[parse_subject_arg(s) for s in subject],
            predicate_type=predicate_type,
            predicate=body,
            max_bytes=limit,
        )
    except signing.NoSubject:
        raise UsageError("give at least one --subject NAME=sha256:HEX") from None
    data = signed.envelope.canonical() + b"\n"
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    _write_new(Path(out), data)
    emit(
        as_json,
        {"out": out, **signed.to_json()},
        [
            f"wrote {out}: {predicate_type} about {plural(len(signed.statement.subjects), 'subject')}, "
            f"signed by {signed.keyid}"
        ],
    )


def _write_new(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
