"""`chainproof deps diff NAME OLD NEW`: what a release can do that the previous one could not."""

from __future__ import annotations

import dataclasses
import importlib
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainproof.cli.deps_options import Level, ReportFormat, chosen_format
from chainproof.cli.output import JsonOption, say
from chainproof.deps.model import Severity
from chainproof.errors import UsageError

_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")


def looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or text.lower().endswith(_ARCHIVE_SUFFIXES)


def _download(name: str, version: str, dest: Path, index_url: str | None) -> Path:
    # Imported here: diffing two local archives never needs the index client.
    try:
        index = importlib.import_module("chainproof.deps.index")
    except ModuleNotFoundError as e:
        if e.name != "chainproof.deps.index":
            raise
        raise UsageError("downloading releases is not available in this build; give archive paths") from None
    path: Path = index.download_release(name, version, dest, index_url)
    return path


def resolve(name: str, spec: str, which: str, workdir: Path, index_url: str | None) -> tuple[Path, str]:
    """The archive OLD or NEW names (an existing file, or the release `spec` downloaded) and how
    to call it in the report."""
    path = Path(spec)
    if path.is_dir():
        raise UsageError(f"{which} {spec}: a directory; give a wheel, an sdist or a version")
    if path.exists():
        return path, spec
    if looks_like_path(spec):
        raise UsageError(f"{which} {spec}: no such file")
    try:
        Version(spec)
    except InvalidVersion:
        raise UsageError(f"{which} {spec!r} is neither an existing wheel or sdist nor a version") from None
    target = workdir / which.lower()
    target.mkdir()
    downloaded = _download(name, spec, target, index_url)
    return downloaded, f"{downloaded.name} (from {index_url or 'the index'})"


def _name_note(name: str, declared: tuple[str, str] | None, which: str) -> str | None:
    if declared is not None and canonicalize_name(declared[0]) != canonicalize_name(name):
        return f"{which} is a release of {declared[0]!r}, not {name!r}"
    return None


def diff_command(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The project, as the index names it.", show_default=False)
    ],
    old: Annotated[
        str,
        typer.Argument(
            metavar="OLD",
            help="The previous release: a wheel or sdist path, or a version to download.",
            show_default=False,
        ),
    ],
    new: Annotated[
        str,
        typer.Argument(
            metavar="NEW",
            help="The release to check: a wheel or sdist path, or a version to download.",
            show_default=False,
        ),
    ],
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url", metavar="URL", help="The package index to download versions from (default: PyPI)."
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Report format: table (people, the default) or json (machines).",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        Level, typer.Option("--fail-on", help="Exit 1 when a finding has this severity or worse.")
    ] = Level.HIGH,
    as_json: JsonOption = False,
) -> None:
    """Diff a release against the previous one: what can it do that the old one could not?

    Reports new startup hooks, binaries, network, process, exec and credential capabilities, and
    code that now runs at import time. OLD and NEW are wheel or sdist paths, or versions
    downloaded from the index (a wheel for this interpreter, else the sdist, checked against the
    index's sha256). Nothing is imported, built or run. Exit codes: 0 no finding at --fail-on or
    worse; 1 some; 2 usage or runtime error.
    """
    from chainproof.deps.diff import diff_trees, render_json, render_table, summary_line
    from chainproof.deps.targets.archive import open_archive

    chosen = chosen_format(fmt, as_json, ReportFormat.TABLE)
    workdir = Path(tempfile.mkdtemp(prefix="chainproof-diff-"))
    try:
        old_path, old_label = resolve(name, old, "OLD", workdir, index_url)
        new_path, new_label = resolve(name, new, "NEW", workdir, index_url)
        old_tree, new_tree = open_archive(old_path), open_archive(new_path)
    finally:
        # The archives are read into memory when opened; nothing downloaded outlives the command.
        shutil.rmtree(workdir, ignore_errors=True)
    notes = [
        n
        for n in (_name_note(name, old_tree.declared, "OLD"), _name_note(name, new_tree.declared, "NEW"))
        if n is not None
    ]
    result = diff_trees(
        name,
        old_tree,
        new_tree,
        old_version=old_tree.declared[1] if old_tree.declared else None,
        new_version=new_tree.declared[1] if new_tree.declared else None,
    )
    result = dataclasses.replace(result, old_label=old_label, new_label=new_label)
    if chosen is ReportFormat.JSON:
        text = render_json(result)
    else:
        text = render_table(result, color=sys.stdout.isatty())
    sys.stdout.write(text)
    sys.stdout.flush()
    for note in notes:
        say(f"note: {note}")
    say(summary_line(result))
    if result.at_or_above(Severity.parse(fail_on.value)):
        raise typer.Exit(1)
