"""The human report: a table of findings (stdout) and a one-line summary (stderr, by the CLI)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table
from rich.text import Text

from chainproof._internal.text import plural
from chainproof.deps.model import Finding, ScanResult, Severity

_STYLES = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_WIDTH = 120


def summary_line(result: ScanResult) -> str:
    """`N packages, M findings (1 critical, 2 high), K errors; advisories: ...; notes` for stderr."""
    counts = [(s, sum(f.severity is s for f in result.findings)) for s in sorted(Severity, reverse=True)]
    parts = ", ".join(f"{n} {s}" for s, n in counts if n)
    text = f"{plural(len(result.packages), 'package')}, {plural(len(result.findings), 'finding')}"
    if result.requirements:
        text = f"{plural(len(result.requirements), 'requirement')}, " + text
    text += f" ({parts})" if parts else ""
    if result.errors:
        text += f", {plural(len(result.errors), 'error')}"
    if result.advisory_sources:
        text += f"; advisories: {', '.join(result.advisory_sources)}"
    return "; ".join([text, *result.notes])


def _where(f: Finding) -> str:
    return f"{f.path}:{f.line}" if f.line else f.path


def _package(f: Finding) -> str:
    if f.package is None:
        return "no package"  # a file no RECORD claims, say
    return f"{f.package} {f.version}" if f.version else f.package


def findings_table(result: ScanResult) -> Table:
    table = Table(show_lines=False, expand=False)
    for column in ("severity", "rule", "package", "path", "message"):
        table.add_column(column, overflow="fold")
    for f in result.findings:
        message = f.message + (f" [{f.advisory.id}]" if f.advisory else "")
        table.add_row(
            Text(str(f.severity), style=_STYLES[f.severity]), f.rule, _package(f), _where(f), message
        )
    return table


def render(result: ScanResult, color: bool = False) -> str:
    """The report as text (with ANSI colours when `color`)."""
    out = io.StringIO()
    console = Console(
        file=out, width=_WIDTH, force_terminal=color, no_color=not color, highlight=False, soft_wrap=False
    )
    console.print(f"scanned {result.target}: {summary_line(result)}", markup=False)
    if result.findings:
        console.print(findings_table(result))
    return out.getvalue()
