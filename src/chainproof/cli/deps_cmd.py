"""`chainproof deps`: scan environments, wheels, sdists and lock files for compromised packages."""

from __future__ import annotations

import dataclasses
import enum
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.deps_options import Level, chosen_format
from chainproof.cli.output import JsonOption, Verbosity, say, verbosity, watcher
from chainproof.deps.model import ScanResult, Severity
from chainproof.deps.rules.parallel import MIN_PARALLEL_ITEMS
from chainproof.errors import UsageError

app = typer.Typer(
    help="The dependency guard: find compromised Python packages without importing, building or "
    "running them.",
    no_args_is_help=True,
)


_SHOWN_ERRORS = 20
"""Errors printed to stderr (all of them with --verbose); the report lists them all."""
_BAR_FILES = MIN_PARALLEL_ITEMS
"""Fewer .py files than this are analysed before a bar would be worth drawing."""


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    CYCLONEDX = "cyclonedx"


def _run(targets: list[str], python: str | None) -> ScanResult:
    from chainproof.deps import scan

    return scan.scan_all(targets, python=python, watch=watcher("scanning", minimum=_BAR_FILES))


def _exit_code(result: ScanResult, fail_on: Severity) -> int:
    """1 when a finding reaches the threshold; else 2 when part of the scan failed; else 0."""
    if result.at_or_above(fail_on):
        return 1
    return 2 if result.errors else 0


@dataclasses.dataclass(frozen=True)
class Report:
    """One `--report FORMAT=FILE`."""

    format: Format
    path: Path


def _parse_report(text: str) -> Report:
    name, sep, path = text.partition("=")
    if not sep or not path:
        raise typer.BadParameter(f"{text!r} is not FORMAT=FILE")
    try:
        return Report(Format(name), Path(path))
    except ValueError:
        choices = ", ".join(f.value for f in Format)
        raise typer.BadParameter(f"{name!r} is not one of {choices}") from None


def _check_files(paths: list[Path]) -> None:
    """Two reports into one file would leave only the last: refused before anything is scanned."""
    seen: set[Path] = set()
    for path in paths:
        key = path.absolute()
        if key in seen:
            raise UsageError(f"{path} is named for more than one report")
        seen.add(key)


@app.command("scan")
def scan_command(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[TARGET]...",
            help="What to scan: a virtual environment, a site-packages directory, a wheel (.whl), "
            "an sdist (.tar.gz, .tgz, .zip), or a lock / requirements file (requirements*.txt, "
            "pylock.toml, uv.lock, poetry.lock). Several targets give one combined report. "
            "None: the environment of --python, by default the current interpreter.",
            show_default=False,
        ),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(
            "--python",
            metavar="EXE",
            help="Also scan this interpreter's environment. Its site-packages are found from "
            "pyvenv.cfg, or by running it with -I -S (no site, so no .pth hook runs).",
        ),
    ] = None,
    fmt: Annotated[
        Format | None,
        typer.Option(
            "--format",
            "-f",
            help="Report format: table (people, the default), json (machines), sarif, cyclonedx.",
            show_default=False,
        ),
    ] = None,
    fail_on: Annotated[
        Level,
        typer.Option("--fail-on", help="Exit 1 when a finding has this severity or worse."),
    ] = Level.HIGH,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the report to FILE (once the scan is done) instead of stdout.",
        ),
    ] = None,
    reports: Annotated[
        list[Report] | None,
        typer.Option(
            "--report",
            metavar="FORMAT=FILE",
            parser=_parse_report,
            help="Also write the report in FORMAT (table, json, sarif, cyclonedx) to FILE, once the "
            "scan is done; repeatable, so one scan gives every format.",
            show_default=False,
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            help="Ask no network service: known vulnerabilities come from the bundled records and "
            "the local database only (also CHAINPROOF_OFFLINE=1). Online, each release is looked up "
            "in PyPI's JSON API, cached for a day in the advisory database.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Scan installed environments, wheels, sdists or lock files; nothing scanned is ever run.

    Checks every installed file against its RECORD, files no package installed, startup hooks
    (.pth, sitecustomize), suspicious code, known malicious releases and look-alike names.

    Exit codes: 0 no finding at --fail-on or worse; 1 some; 2 usage or runtime error (also when
    part of a target could not be read and nothing reached --fail-on). The report goes to stdout
    (or --output), a one-line summary to stderr.
    """
    chosen = chosen_format(fmt, as_json, Format.TABLE)
    extra = list(reports or [])
    _check_files([*([output] if output is not None else []), *(r.path for r in extra)])
    if offline:
        _go_offline()
    result = _run(targets or [], python)
    # Every report is rendered before any is written: a format that fails writes nothing.
    texts = [(r.path, _render(r.format, result, color=False)) for r in extra]
    main_text = _render(chosen, result, color=output is None and sys.stdout.isatty())
    for path, text in texts:
        path.write_text(text, encoding="utf-8")
    if output is not None:
        output.write_text(main_text, encoding="utf-8")
    else:
        sys.stdout.write(main_text)
        sys.stdout.flush()
    _summarise(result)
    code = _exit_code(result, Severity.parse(fail_on.value))
    if code:
        raise typer.Exit(code)


def _go_offline() -> None:
    from chainproof.deps.advisories import pypi_json

    # Through the environment: the advisory rule may run in a forked child process.
    os.environ[pypi_json.OFFLINE_ENV] = "1"


def _render(fmt: Format, result: ScanResult, *, color: bool) -> str:
    from chainproof.deps import report
    from chainproof.deps.report import table

    if fmt is Format.TABLE:
        return table.render(result, color=color)
    return report.render(fmt.value, result)


def _summarise(result: ScanResult) -> None:
    """The errors (the first few: the report lists them all) and the one-line summary, on stderr."""
    from chainproof.deps.report import table

    shown = len(result.errors) if verbosity() >= Verbosity.VERBOSE else _SHOWN_ERRORS
    for error in result.errors[:shown]:
        say(f"incomplete: {error}", level=Verbosity.QUIET)
    if len(result.errors) > shown:
        say(f"incomplete: and {len(result.errors) - shown} more (see the report)", level=Verbosity.QUIET)
    say(table.summary_line(result))


from chainproof.cli.gate_cmd import gate_command  # noqa: E402 - registered after scan: help lists scan first

app.command("gate")(gate_command)

from chainproof.cli.diff_cmd import diff_command  # noqa: E402 - registered after scan: help lists scan first

app.command("diff")(diff_command)
