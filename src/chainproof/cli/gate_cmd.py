"""`chainproof deps gate` and `chainproof pip install`: check what would be installed, then install
exactly the files that were checked."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from chainproof.cli.deps_options import Level, ReportFormat, chosen_format
from chainproof.cli.output import JsonOption, Verbosity, say, verbosity
from chainproof.deps.model import Severity
from chainproof.errors import UsageError

_MIN_AGE_HELP = (
    "Cooldown: refuse files uploaded less than this long ago (7d, 36h, 0 to disable); newer "
    "versions are left out of resolution while older ones fit. Env CHAINPROOF_MIN_AGE."
)


MinAge = Annotated[
    str, typer.Option("--min-age", metavar="AGE", envvar="CHAINPROOF_MIN_AGE", help=_MIN_AGE_HELP)
]
FailOn = Annotated[
    Level, typer.Option("--fail-on", help="Block when a scan finding has this severity or worse.")
]
Python = Annotated[
    str | None,
    typer.Option(
        "--python", metavar="EXE", help="The interpreter to resolve for and install into (default: this one)."
    ),
]
Fmt = Annotated[
    ReportFormat | None,
    typer.Option(
        "--format", "-f", help="Report format: table (people, the default) or json.", show_default=False
    ),
]
Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout."),
]


def gate_command(
    requirements: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REQUIREMENT]...",
            help="Requirements as pip takes them (name, name==1.2, name>=1).",
            show_default=False,
        ),
    ] = None,
    requirement_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--requirement",
            "-r",
            metavar="FILE",
            help="A requirements file (repeatable); --hash pins are enforced by pip.",
        ),
    ] = None,
    min_age: MinAge = "7d",
    fail_on: FailOn = Level.HIGH,
    install: Annotated[
        bool, typer.Option("--install", help="When nothing blocks, install exactly the checked files.")
    ] = False,
    python: Python = None,
    index_url: Annotated[
        str | None,
        typer.Option(
            "--index-url", "-i", metavar="URL", help="The package index (default $PIP_INDEX_URL, else PyPI)."
        ),
    ] = None,
    extra_index_url: Annotated[
        list[str] | None,
        typer.Option(
            "--extra-index-url",
            metavar="URL",
            help="More indexes (repeatable); names on several are checked for dependency confusion.",
        ),
    ] = None,
    only_changes: Annotated[
        bool, typer.Option("--only-changes", help="Check only what the target environment does not have yet.")
    ] = False,
    no_diff: Annotated[
        bool, typer.Option("--no-diff", help="Do not compare upgrades against the installed release.")
    ] = False,
    keep: Annotated[
        Path | None, typer.Option("--keep", metavar="DIR", help="Keep the downloaded files in DIR.")
    ] = None,
    fmt: Fmt = None,
    output: Output = None,
    as_json: JsonOption = False,
) -> None:
    """Check what pip would install, before it is installed: resolve wheels only, download into a
    private directory, check each file's age (cooldown), yank state and hash on the index, scan it,
    compare upgrades with the installed release, and only then (--install) install those exact files
    with --no-index --require-hashes.

    Exit codes: 0 allowed (and installed with --install); 1 blocked; 2 usage or runtime error.
    """
    from chainproof.deps import index

    args = [a for f in requirement_files or [] for a in ("-r", str(f))] + list(requirements or [])
    if not args:
        raise UsageError("name at least one requirement or --requirement FILE")
    _run(
        args,
        [],
        index_url or index.default_index(),
        list(extra_index_url or []),
        min_age=min_age,
        fail_on=fail_on,
        install=install,
        python=python,
        fresh=not only_changes,
        diff=not no_diff,
        keep=keep,
        fmt=chosen_format(fmt, as_json, ReportFormat.TABLE),
        output=output,
    )


pip_app = typer.Typer(
    help="pip, behind the gate: `chainproof pip install ARGS...` checks what pip would install and "
    "installs it only when the gate allows.",
    no_args_is_help=True,
)


@pip_app.callback()
def _pip_options(
    ctx: typer.Context,
    min_age: MinAge = "7d",
    fail_on: FailOn = Level.HIGH,
    python: Python = None,
    fmt: Fmt = None,
    output: Output = None,
    as_json: JsonOption = False,
) -> None:
    """Gate options go before `install`; everything after it is pip's."""
    ctx.obj = {
        "min_age": min_age,
        "fail_on": fail_on,
        "python": python,
        "fmt": chosen_format(fmt, as_json, ReportFormat.TABLE),
        "output": output,
    }


@pip_app.command(
    "install",
    context_settings={
        "allow_extra_args": True,
        "ignore_unknown_options": True,
        "help_option_names": ["--help"],
    },
)
def pip_install(ctx: typer.Context) -> None:
    """A drop-in for `pip install ARGS...`: the same arguments, resolved wheels only, checked by the
    gate (cooldown, yanked, hashes, scan, upgrade diff) and installed only when nothing blocks.

    Example: chainproof pip --min-age 3d install -U requests 'urllib3<3'
    """
    from chainproof.deps import index
    from chainproof.deps.gate.pip import split_pip_args

    parsed = split_pip_args(ctx.args)
    opts = ctx.obj
    _run(
        parsed.resolve,
        parsed.install,
        None if parsed.no_index else parsed.index_url or index.default_index(),
        [] if parsed.no_index else parsed.extra_index_urls,
        min_age=opts["min_age"],
        fail_on=opts["fail_on"],
        install=True,
        python=opts["python"],
        fresh=False,
        diff=True,
        keep=None,
        fmt=opts["fmt"],
        output=opts["output"],
    )


def _run(
    pip_args: list[str],
    install_args: list[str],
    index_url: str | None,
    extra_index_urls: list[str],
    *,
    min_age: str,
    fail_on: Level,
    install: bool,
    python: str | None,
    fresh: bool,
    diff: bool,
    keep: Path | None,
    fmt: ReportFormat,
    output: Path | None,
) -> None:
    from chainproof.deps.gate.policy import parse_age
    from chainproof.deps.gate.run import GateRequest, run_gate
    from chainproof.deps.report import gate_report

    request = GateRequest(
        pip_args=pip_args,
        python=python or sys.executable,
        index_url=index_url,
        extra_index_urls=extra_index_urls,
        min_age=parse_age(min_age),
        fail_on=Severity.parse(fail_on.value),
        install=install,
        install_args=install_args,
        fresh=fresh,
        diff=diff,
        keep=keep,
        quiet=verbosity() is Verbosity.QUIET,
    )
    result = run_gate(request, say)
    target = " ".join(pip_args)
    if fmt is ReportFormat.JSON:
        text = gate_report.render_json(result, target)
    else:
        text = gate_report.render_table(result, target, color=output is None and sys.stdout.isatty())
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    for error in result.errors:
        say(f"incomplete: {error}", level=Verbosity.QUIET)
    say(gate_report.verdict(result))
    if result.blocked or result.unresolved:
        raise typer.Exit(1)
    if result.errors:
        raise typer.Exit(2)
