"""`chainproof store`: moving a log between storage backends."""

from __future__ import annotations

from typing import Annotated

import typer

from chainproof._internal.text import plural
from chainproof.cli.output import JsonOption, emit, progress_callback
from chainproof.errors import UsageError, VerificationError
from chainproof.log import location
from chainproof.remote.client import is_url

app = typer.Typer(help="Move a log between storage backends (SQLite, PostgreSQL).", no_args_is_help=True)


@app.command("copy")
def copy(
    source: Annotated[str, typer.Argument(metavar="SRC", help="A store directory or a postgresql:// URL.")],
    target: Annotated[
        str, typer.Argument(metavar="DST", help="A new store: a directory, or a postgresql://…#name URL.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Copy a log, entries, checkpoints and keys, into a new store, then audit the copy against the
    log's verifier key; exit 1 if the audit fails. The key files (log-signer.pem, admin.pem) go
    along into the new store's directory (for PostgreSQL, its local one)."""
    from pathlib import Path

    from chainproof.log.service import copy_store

    if is_url(source) or is_url(target):
        raise UsageError("`store copy` copies between stores of this host, not from or to a server")
    places = [s if location.is_postgres(s) else Path(s) for s in (source, target)]
    size, report = copy_store(places[0], places[1], progress=progress_callback("copying the log"))
    where = location.describe(target)
    emit(
        as_json,
        {
            "source": location.describe(source),
            "destination": where,
            "tree_size": size,
            "audit": report.to_json(),
        },
        [
            f"copied {plural(size, 'entry', 'entries')} to {where}",
            "the copy audits clean" if report.ok else f"the copy FAILS its audit: {report.problems[0]}",
        ],
    )
    if not report.ok:
        raise VerificationError(f"the copy at {where} fails its audit ({report.problem_count} problems)")
