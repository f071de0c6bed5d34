"""The gate's report: what was resolved, what each file is, what was found, and the decision.

JSON: `{"packages": [...], "findings": [...], "excluded": {...}, "decision": {...}, "summary": {...}}`
with findings exactly as in `deps scan --format json`.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from chainproof._internal.text import plural
from chainproof.deps.advisories import sources
from chainproof.deps.gate.run import Artifact, GateResult
from chainproof.deps.model import ScanResult
from chainproof.deps.report import json_report, table


def artifact_obj(a: Artifact) -> dict[str, Any]:
    c = a.candidate
    listed = a.listed
    return {
        "name": c.name,
        "version": c.version,
        "file": c.filename,
        "url": c.url,
        "sha256": a.sha256,
        "requested": c.requested,
        "previous": a.previous,
        "upload_time": listed.upload_time.isoformat() if listed and listed.upload_time else None,
        "yanked": listed.yanked if listed else None,
        "on_index": listed is not None,
    }


def decision_obj(result: GateResult) -> dict[str, Any]:
    return {
        "allowed": not result.blocked and not result.errors and not result.unresolved,
        "blocking": [json_report.finding_obj(f) for f in result.blocked],
        "installed": result.installed,
        "unresolved": result.unresolved or None,
    }


def scan_result(result: GateResult, target: str) -> ScanResult:
    """The gate's findings as a scan's, with the advisory sources its files were matched against."""
    scan = result.scan_result(target)
    releases = [(a.candidate.name, a.candidate.version) for a in result.artifacts if a.path is not None]
    scan.advisory_sources, scan.notes = sources.describe(releases)
    return scan


def report_obj(result: GateResult, target: str) -> dict[str, Any]:
    scan = scan_result(result, target)
    return {
        "packages": [artifact_obj(a) for a in result.artifacts],
        "findings": [json_report.finding_obj(f) for f in scan.findings],
        "excluded": result.excluded,
        "decision": decision_obj(result),
        "summary": {**json_report.summary_obj(scan), "packages": len(result.artifacts)},
    }


def render_json(result: GateResult, target: str) -> str:
    return json.dumps(report_obj(result, target), indent=2) + "\n"


def _packages_table(result: GateResult) -> Table:
    t = Table(show_lines=False, expand=False)
    for column in ("package", "version", "was", "uploaded", "file"):
        t.add_column(column, overflow="fold")
    for a in result.artifacts:
        t.add_row(a.candidate.name, a.candidate.version, a.previous or "", _uploaded(a), a.candidate.filename)
    return t


def _uploaded(a: Artifact) -> str:
    """When the index says the file was uploaded, or why that is not known."""
    listed = a.listed
    if listed is None:
        return "not on the index"
    uploaded = listed.upload_time.strftime("%Y-%m-%d %H:%M") if listed.upload_time else "not given"
    return uploaded + (" (yanked)" if listed.yanked is not None else "")


def verdict(result: GateResult) -> str:
    if result.unresolved:
        return f"blocked: unresolvable with wheels only ({result.unresolved})"
    if result.blocked:
        return f"blocked by {plural(len(result.blocked), 'finding')}"
    if result.errors:
        return "not allowed: part of the check failed"
    return "installed" if result.installed else "allowed"


def render_table(result: GateResult, target: str, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=color, no_color=not color, highlight=False)
    scan = scan_result(result, target)
    head = f"{plural(len(result.artifacts), 'file')}, {plural(len(scan.findings), 'finding')}"
    console.print(f"gate {target}: {head}", markup=False)
    console.print(f"advisories: {', '.join(scan.advisory_sources)}", markup=False)
    for note in scan.notes:
        console.print(f"note: {note}", markup=False)
    if result.artifacts:
        console.print(_packages_table(result))
    for name, versions in result.excluded.items():
        console.print(f"cooldown: left out {name} {', '.join(versions)}", markup=False)
    if scan.findings:
        console.print(table.findings_table(scan))
    console.print(f"decision: {verdict(result)}", markup=False)
    return out.getvalue()
