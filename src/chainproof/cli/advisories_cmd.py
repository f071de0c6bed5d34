"""`chainproof advisories`: import, download and list the OSV advisories that scans match against."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainproof._internal.text import plural
from chainproof.cli.output import JsonOption, emit, watcher
from chainproof.deps.advisories import db as advisory_db
from chainproof.deps.advisories.listing import listed

app = typer.Typer(
    help="The advisory database: OSV records (local, imported or downloaded) plus bundled landmark cases.",
    no_args_is_help=True,
)

_BAR_RECORDS = 2_000
"""Fewer records than this are read too fast for a bar to be worth drawing."""

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="FILE",
        help="The advisory database (default $CHAINPROOF_HOME/advisories.db or ~/.cache/chainproof/).",
    ),
]


def _stats_json(stats: advisory_db.ImportStats, path: Path) -> dict[str, object]:
    return {"db": str(path), **stats.to_json()}


def _stats_line(stats: advisory_db.ImportStats, path: Path) -> str:
    return (
        f"{plural(stats.total, 'record')} read: {stats.added} added, {stats.updated} updated, "
        f"{stats.unchanged} unchanged ({path})"
    )


@app.command("import")
def import_(
    paths: Annotated[
        list[Path], typer.Argument(help="OSV JSON files, directories of them, or an OSV ecosystem zip.")
    ],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import OSV records into the local database (all or nothing; re-importing is harmless)."""
    path = db or advisory_db.default_path()
    stats = advisory_db.import_paths(paths, path, watch=watcher("importing", minimum=_BAR_RECORDS))
    emit(as_json, _stats_json(stats, path), [_stats_line(stats, path)])


@app.command("update")
def update(
    db: DbOption = None,
    url: Annotated[
        str, typer.Option("--url", help="Where to download the OSV PyPI zip from (http, https or file).")
    ] = advisory_db.OSV_PYPI_ZIP,
    timeout: Annotated[float, typer.Option("--timeout", help="Network timeout in seconds.", min=1)] = (
        advisory_db.DOWNLOAD_TIMEOUT
    ),
    as_json: JsonOption = False,
) -> None:
    """Download the OSV PyPI advisories and import them (exit 2 with one line when unreachable)."""
    path = db or advisory_db.default_path()
    stats = advisory_db.update(path, url, timeout, watch=watcher("importing", minimum=_BAR_RECORDS))
    emit(as_json, {**_stats_json(stats, path), "source": url}, [_stats_line(stats, path)])


@app.command("list")
def list_(
    package: Annotated[
        str | None, typer.Option("--package", help="Only records naming this project.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the advisories a scan uses: bundled records and the local database's."""
    rows = [entry.to_json() for entry in listed(package, db)]
    lines = [
        f"{r['id']}  {r['package']}  {r['versions']}  "
        f"{'MALICIOUS' if r['malicious'] else 'vulnerable'}{'  (withdrawn)' if r['withdrawn'] else ''}"
        f"  [{r['source']}]"
        for r in rows
    ]
    emit(as_json, {"advisories": rows, "count": len(rows)}, lines or ["no advisories"])
