"""`chainproof audit`: verify a whole log offline, from a store or from an export file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from chainproof._internal.text import plural
from chainproof.cli.output import JsonOption, emit, open_local_log, progress, read_input
from chainproof.log import export
from chainproof.log.note import Checkpoint, NoteVerifier, parse_vkey, verify_checkpoint
from chainproof.log.service import audit_export


def audit(
    ctx: typer.Context,
    vkey: Annotated[str, typer.Option("--vkey", help="The log's checkpoint verifier key (from `init`).")],
    export_file: Annotated[
        Path | None, typer.Option("--export", help="Audit this export file instead of the store.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint you saved earlier: the log must still extend it."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry, signature, key registration and checkpoint; exit 0 only if all verify.

    Trusts only VKEY (and the saved checkpoint). Any modified, deleted, inserted or reordered entry
    is reported with its index.
    """
    verifier = parse_vkey(vkey)
    saved = _saved(checkpoint, verifier)
    if export_file is not None:
        report = audit_export(export_file, verifier, saved=saved, watch=_shown)
    else:
        report = open_local_log(ctx).audit(verifier, saved=saved, watch=_shown)
    emit(
        as_json,
        report.to_json(),
        [
            *(f"problem: {p}" for p in report.problems),
            *(
                f"note: entry {i} is signed by a key revoked retroactively"
                for i in report.retroactively_revoked
            ),
            f"{'audit ok' if report.ok else 'AUDIT FAILED'}: "
            f"{plural(report.tree_size, 'entry', 'entries')}, {plural(report.checkpoints, 'checkpoint')}, "
            f"{plural(report.keys, 'key')}, {plural(report.problem_count, 'problem')}",
        ],
    )
    if not report.ok:
        raise typer.Exit(1)


def _saved(path: Path | None, verifier: NoteVerifier) -> Checkpoint | None:
    if path is None:
        return None
    text = read_input(str(path)).decode("utf-8", errors="replace")
    return verify_checkpoint(text, verifier)


def _shown(events: Iterable[export.Event], size: int) -> Iterator[export.Event]:
    return progress(events, size, "auditing", export.entry_count)
