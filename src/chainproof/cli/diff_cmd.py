"""`chainproof deps diff NAME OLD NEW`: what a release can do that the previous one could not."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from chainproof.cli.deps_options import Level, ReportFormat, chosen_format
from chainproof.cli.output import JsonOption, say
from chainproof.deps.model import Severity


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
    from chainproof.deps.diff import render_json, render_table, summary_line
    from chainproof.deps.releases import diff_releases

    chosen = chosen_format(fmt, as_json, ReportFormat.TABLE)
    compared = diff_releases(name, old, new, index_url=index_url)
    result = compared.result
    if chosen is ReportFormat.JSON:
        text = render_json(result)
    else:
        text = render_table(result, color=sys.stdout.isatty())
    sys.stdout.write(text)
    sys.stdout.flush()
    for note in compared.warnings:
        say(f"note: {note}")
    say(summary_line(result))
    if result.at_or_above(Severity.parse(fail_on.value)):
        raise typer.Exit(1)
