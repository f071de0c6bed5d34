"""`chainproof audit`: verify a whole log offline, from a store or from an export file; or, with
`--remote`, monitor a server's log (consistency, witness cosignatures, fork evidence)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer

from chainproof._internal.text import plural
from chainproof.cli.output import JsonOption, emit, open_local_log, progress, read_input
from chainproof.errors import UsageError
from chainproof.log import export
from chainproof.log.note import Checkpoint, NoteVerifier, parse_vkey, verify_checkpoint
from chainproof.log.service import audit_export


def audit(
    ctx: typer.Context,
    vkey: Annotated[
        str | None,
        typer.Option(
            "--vkey",
            help="The log's checkpoint verifier key (from `init`; with --remote: pinned if not given).",
        ),
    ] = None,
    export_file: Annotated[
        Path | None, typer.Option("--export", help="Audit this export file instead of the store.")
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="A checkpoint you saved earlier: the log must still extend it."),
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option("--remote", help="Monitor the log of this server (URL) instead: see below."),
    ] = None,
    state: Annotated[
        Path | None, typer.Option("--state", help="With --remote: where the monitor remembers the log.")
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option("--witness", metavar="VKEY", help="With --remote: a trusted witness (repeatable)."),
    ] = None,
    quorum: Annotated[
        int | None,
        typer.Option(
            "--quorum", help="With --remote: cosignatures required (default: all --witness).", min=0
        ),
    ] = None,
    max_age: Annotated[
        int | None,
        typer.Option(
            "--max-age", help="With --remote: count cosignatures at most this many seconds old.", min=1
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check every entry, signature, key registration and checkpoint; exit 0 only if all verify.

    Trusts only VKEY (and the saved checkpoint). Any modified, deleted, inserted or reordered entry
    is reported with its index.

    With --remote URL --state DIR, monitor a server's log instead: its latest checkpoint must be
    signed by the log's key (pinned in DIR on first contact, or --vkey), carry valid cosignatures
    by QUORUM of the --witness keys (made within --max-age seconds, if given), and be proved
    consistent with the checkpoint remembered in DIR, which it then replaces. A fork or rewritten
    history fails (exit 1) with both checkpoints as evidence, printed and kept in DIR.
    """
    if remote is not None:
        _monitor(remote, state, vkey, witness or [], quorum, max_age, as_json)
        return
    if vkey is None:
        raise UsageError("give the log's verifier key (--vkey), or --remote URL --state DIR")
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


def _monitor(
    url: str,
    state: Path | None,
    vkey: str | None,
    witnesses: list[str],
    quorum: int | None,
    max_age: int | None,
    as_json: bool,
) -> None:
    from chainproof.server.cosignatures import parse_witnesses
    from chainproof.witness.feed import LogFeed
    from chainproof.witness.monitor import Monitor, MonitorState

    if state is None:
        raise UsageError("--remote needs --state DIR, where the monitor remembers what the log showed it")
    verifiers = parse_witnesses(witnesses)
    feed = LogFeed(url)
    try:
        monitor = Monitor(
            feed,
            MonitorState(state),
            witnesses=verifiers,
            quorum=len(verifiers) if quorum is None else quorum,
            vkey=vkey,
            max_age=max_age,
        )
        report = monitor.run()
    finally:
        feed.close()
    lines = [f"problem ({f.kind}): {f.message}" for f in report.findings]
    if report.evidence is not None:
        for name, note in (
            ("remembered", report.evidence["remembered"]),
            ("shown now", report.evidence["offered"]),
        ):
            lines += [f"the checkpoint {name}:", *(str(note or "(none)\n").rstrip("\n").split("\n"))]
        if report.evidence_file:
            lines.append(f"evidence kept in {report.evidence_file}")
    cosigned = ", ".join(c["name"] for c in report.cosignatures) or "no listed witness"
    lines.append(
        f"{'monitor ok' if report.ok else 'MONITOR FAILED'}: {url} at tree size {report.tree_size}"
        f" ({'first contact' if report.first_contact else f'remembered: {report.remembered_size}'}),"
        f" cosigned by {cosigned} (quorum {report.quorum})"
    )
    emit(as_json, report.to_json(), lines)
    if not report.ok:
        raise typer.Exit(1)


def _saved(path: Path | None, verifier: NoteVerifier) -> Checkpoint | None:
    if path is None:
        return None
    text = read_input(str(path)).decode("utf-8", errors="replace")
    return verify_checkpoint(text, verifier)


def _shown(events: Iterable[export.Event], size: int) -> Iterator[export.Event]:
    return progress(events, size, "auditing", export.entry_count)
