"""`chainproof record`: sign one hop of the chain of custody and append it to the log."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from chainproof.cli.custody_options import KeyOption, PassphraseOption, artifact, open_custody, read_key, warn
from chainproof.cli.output import JsonOption, emit, read_input
from chainproof.custody.hops import Hop
from chainproof.errors import FormatError


def record(
    ctx: typer.Context,
    hop: Annotated[
        Hop,
        typer.Argument(help="The hop: ingest, annotate, transform, train, evaluate, release, access."),
    ],
    key: KeyOption,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input", metavar="ARTIFACT", help="What the hop read: a path or sha256:<hex> (repeatable)."
        ),
    ] = None,
    outputs: Annotated[
        list[str] | None,
        typer.Option(
            "--output", metavar="ARTIFACT", help="What the hop made: a path or sha256:<hex> (repeatable)."
        ),
    ] = None,
    predicate: Annotated[
        str | None,
        typer.Option(
            "--predicate",
            metavar="FILE",
            help="The hop's own fields as a JSON object (docs/custody.md), or - for stdin.",
        ),
    ] = None,
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            metavar="PYTHON_OR_VENV",
            help="transform/train: the interpreter or virtual environment that ran; its packages are "
            "read (never run), and the credential names present in this process recorded.",
        ),
    ] = None,
    time: Annotated[
        str | None, typer.Option("--time", metavar="RFC3339", help="When the hop happened (default: now).")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="transform/train: the run failed.")] = False,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            metavar="FILE",
            help="Warn against this policy (default: the store's, else the template).",
        ),
    ] = None,
    passphrase_env: PassphraseOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sign one hop as an in-toto statement (transform and train as SLSA Provenance v1) and append it.

    A directory is named by its manifest root, a file by its SHA-256. The key's actor is the hop's
    actor. A hop the policy would refuse is still recorded (the record is evidence): the reasons
    are printed as warnings on stderr, and `verify` fails it.
    """
    from chainproof.custody.environment import capture

    details = _predicate(predicate) if predicate is not None else {}
    signer = read_key(key, passphrase_env)
    ins = [artifact(a) for a in inputs or []]
    outs = [artifact(a) for a in outputs or []]
    captured = capture(env) if env is not None else None
    custody = open_custody(ctx, policy)
    done = custody.record(
        hop,
        signer,
        inputs=ins,
        outputs=outs,
        details=details,
        environment=captured,
        time=time,
        succeeded=not failed,
    )
    warn(done.warnings)
    emit(
        as_json,
        {"index": done.index, "statement_digest": done.statement_digest, "warnings": list(done.warnings)},
        [f"recorded {hop.value} as entry {done.index} (statement {done.statement_digest})"],
    )


def _predicate(source: str) -> dict[str, Any]:
    from chainproof.attest.signing import parse_predicate

    try:
        return parse_predicate(read_input(source))
    except FormatError as e:
        raise FormatError(f"--predicate {source}: {e}") from None
