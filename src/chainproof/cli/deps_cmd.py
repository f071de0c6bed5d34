"""`chainproof deps`: scan environments, wheels, sdists and lock files for compromised packages."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.deps_options import Level
from chainproof.deps.model import ScanResult, Severity

app = typer.Typer(
    help="The dependency guard: find compromised Python packages without importing, building or "
    "running them.",
    no_args_is_help=True,
)


_SHOWN_ERRORS = 20
"""Errors printed to stderr; the report lists them all."""


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"
    CYCLONEDX = "cyclonedx"


def _run(targets: list[str], python: str | None) -> ScanResult:
    from chainproof.deps import scan

    results = scan.scan_targets(targets)
    if python is not None or not targets:
        results.insert(0, scan.scan_python(python))
    return results[0] if len(results) == 1 else scan.combine(results)


def _exit_code(result: ScanResult, fail_on: Severity) -> int:
    """1 when a finding reaches the threshold; else 2 when part of the scan failed; else 0."""
    if result.at_or_above(fail_on):
        return 1
    return 2 if result.errors else 0


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
        Format,
        typer.Option(
            "--format", "-f", help="Report format: table (people), json (machines), sarif, cyclonedx."
        ),
    ] = Format.TABLE,
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
) -> None:
    """Scan installed environments, wheels, sdists or lock files; nothing scanned is ever run.

    Checks every installed file against its RECORD, files no package installed, startup hooks
    (.pth, sitecustomize), suspicious code, known malicious releases and look-alike names.

    Exit codes: 0 no finding at --fail-on or worse; 1 some; 2 usage or runtime error (also when
    part of a target could not be read and nothing reached --fail-on). The report goes to stdout
    (or --output), a one-line summary to stderr.
    """
    from chainproof.deps import report
    from chainproof.deps.report import table

    result = _run(targets or [], python)
    if fmt is Format.TABLE and output is None:
        text = table.render(result, color=sys.stdout.isatty())
    else:
        text = report.render(fmt.value, result)
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    for error in result.errors[:_SHOWN_ERRORS]:
        sys.stderr.write(f"chainproof: incomplete: {error}\n")
    if len(result.errors) > _SHOWN_ERRORS:
        sys.stderr.write(
            f"chainproof: incomplete: and {len(result.errors) - _SHOWN_ERRORS} more (see the report)\n"
        )
    sys.stderr.write(f"chainproof: {table.summary_line(result)}\n")
    code = _exit_code(result, Severity.parse(fail_on.value))
    if code:
        raise typer.Exit(code)


from chainproof.cli.gate_cmd import gate_command  # noqa: E402 - registered after scan: help lists scan first

app.command("gate")(gate_command)

from chainproof.cli.diff_cmd import diff_command  # noqa: E402 - registered after scan: help lists scan first

app.command("diff")(diff_command)
