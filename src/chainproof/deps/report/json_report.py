"""The JSON report: the command-line contract of `chainproof deps scan --format json`.

`{"packages": [{"name", "version", "location"}], "findings": [{"rule", "severity", "package",
"version", "path", "line", "message", "evidence", "advisory"}], "summary": {...}}`, where
`advisory` is null or `{"id", "aliases", "summary", "iocs"}`. Requirements pinned by a lock file are
listed as packages too, located at their `file:line`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from chainproof.deps.model import AdvisoryRef, Distribution, Finding, Requirement, ScanResult, Severity


def package_obj(dist: Distribution) -> dict[str, Any]:
    return {"name": dist.name, "version": dist.version, "location": dist.location}


def requirement_obj(req: Requirement) -> dict[str, Any]:
    """A lock-file pin as a package: `location` is where it is pinned (`file:line`)."""
    return {"name": req.name, "version": req.version, "location": req.source}


def advisory_obj(ref: AdvisoryRef | None) -> dict[str, Any] | None:
    if ref is None:
        return None
    return {
        "id": ref.id,
        "aliases": list(ref.aliases),
        "summary": ref.summary,
        "iocs": {kind: list(values) for kind, values in ref.iocs.items()},
    }


def finding_obj(f: Finding) -> dict[str, Any]:
    return {
        "rule": f.rule,
        "severity": str(f.severity),
        "package": f.package,
        "version": f.version,
        "path": f.path,
        "line": f.line,
        "message": f.message,
        "evidence": f.evidence,
        "advisory": advisory_obj(f.advisory),
    }


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Findings per severity, worst first, zeros included."""
    counts = {str(s): 0 for s in sorted(Severity, reverse=True)}
    for f in findings:
        counts[str(f.severity)] += 1
    return counts


def summary_obj(result: ScanResult) -> dict[str, Any]:
    counts = severity_counts(result.findings)
    worst = result.worst()
    return {
        "target": result.target,
        "packages": len(result.packages),
        "requirements": len(result.requirements),
        "findings": len(result.findings),
        "by_severity": counts,
        "worst": None if worst is None else str(worst),
        "errors": list(result.errors),
        "advisory_sources": list(result.advisory_sources),
        "notes": list(result.notes),
    }


def report_obj(result: ScanResult) -> dict[str, Any]:
    return {
        "packages": [package_obj(d) for d in result.packages]
        + [requirement_obj(r) for r in result.requirements],
        "findings": [finding_obj(f) for f in result.findings],
        "summary": summary_obj(result),
    }


def render(result: ScanResult) -> str:
    return json.dumps(report_obj(result), indent=2) + "\n"
