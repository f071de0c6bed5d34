"""A scan as SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

`to_sarif` builds the log as plain data and is pure but for one look at whether the scanned target
is a file; `render` serialises it. Paths stay relative to the scanned root (`uriBaseId` SCANROOT)
and the root itself is given once in `originalUriBaseIds`, so a report made on one machine can be
mapped onto another checkout. Each result carries a fingerprint of what was found, not of where
the line moved to, so a dashboard keeps one alert per finding across runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import chainproof
from chainproof.deps.model import Finding, ScanResult, Severity
from chainproof.deps.targets.locks import RULE_DESCRIPTIONS as LOCK_RULES

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://chainproof.dev/"
ROOT_ID = "SCANROOT"
FINGERPRINT_KEY = "chainproofFinding/v1"
RULES_DOC = "docs/rules.md"

LEVELS: Mapping[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY: Mapping[Severity, str] = {
    # GitHub ranks alerts by this CVSS-like score: >= 9 critical, >= 7 high, >= 4 medium, else low.
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


@dataclass(frozen=True)
class Root:
    """Where finding paths are relative to."""

    uri: str | None
    """The `file://` URI of that directory, ending in `/`; None when a report spans several."""
    prefix: str = ""
    """Put before every path: the archive's file name, whose members the paths name."""


def _dir_uri(path: Path) -> str:
    return path.absolute().as_uri().rstrip("/") + "/"


def scan_root(result: ScanResult) -> Root:
    """The directory a scan's paths are relative to.

    Installed files are relative to their site-packages directory (the distributions' location);
    archive members to the archive, which is not a directory, so they get its name as a prefix;
    a lock file's findings to the directory the lock file is in.
    """
    locations = {d.location for d in result.packages}
    if len(locations) > 1:
        return Root(None)
    where = Path(locations.pop() if locations else result.target)
    if where.name.lower().endswith(_ARCHIVE_SUFFIXES):
        return Root(_dir_uri(where.parent), f"{where.name}/")
    if where.is_dir():
        return Root(_dir_uri(where))
    if where.is_file():
        return Root(_dir_uri(where.parent))
    return Root(None)


def level(severity: Severity) -> str:
    return LEVELS[severity]


def fingerprint(finding: Finding) -> str:
    """Stable across runs: what was seen and where, not the line number (which moves with edits)."""
    parts = (finding.rule, finding.package or "", finding.path, finding.evidence)
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def describe(rule: str, descriptions: Mapping[str, str]) -> str:
    return descriptions.get(rule) or f"chainproof rule {rule}"


def rule_descriptor(
    rule: str, findings: Sequence[Finding], descriptions: Mapping[str, str]
) -> dict[str, object]:
    worst = max(f.severity for f in findings)
    anchor = f"{RULES_DOC}#{rule}"
    return {
        "id": rule,
        "shortDescription": {"text": describe(rule, descriptions)},
        "help": {
            "text": f"See {anchor}: what the rule catches, a harmless example and known benign look-alikes.",
            "markdown": f"See [{anchor}]({anchor}): what the rule catches, a harmless example and known "
            "benign look-alikes.",
        },
        # Severity depends on context (a `.pth` file, a test file), so the default is the worst seen.
        "defaultConfiguration": {"level": level(worst)},
        "properties": {"security-severity": SECURITY_SEVERITY[worst], "tags": ["security", "supply-chain"]},
    }


def _location(finding: Finding, root: Root) -> dict[str, object]:
    artifact: dict[str, object] = {"uri": quote(root.prefix + finding.path, safe="/")}
    if root.uri is not None:
        artifact["uriBaseId"] = ROOT_ID
    physical: dict[str, object] = {"artifactLocation": artifact}
    if finding.line is not None and finding.line >= 1:
        region: dict[str, object] = {"startLine": finding.line}
        if finding.evidence:
            region["snippet"] = {"text": finding.evidence}
        physical["region"] = region
    return {"physicalLocation": physical}


def _properties(finding: Finding) -> dict[str, object]:
    advisory = finding.advisory
    props: dict[str, object] = {
        "severity": str(finding.severity),
        "package": finding.package,
        "version": finding.version,
        "advisory": advisory.id if advisory else None,
    }
    if advisory is not None:
        props["aliases"] = list(advisory.aliases)
        props["iocs"] = {kind: list(values) for kind, values in advisory.iocs.items()}
    if finding.evidence:
        props["evidence"] = finding.evidence
    return props


def sarif_result(finding: Finding, rule_index: int, root: Root) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": {"text": finding.message or finding.rule},
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding)},
        "properties": _properties(finding),
    }
    if finding.path:
        result["locations"] = [_location(finding, root)]
    return result


def to_sarif(
    result: ScanResult, *, descriptions: Mapping[str, str] | None = None, root: Root | None = None
) -> dict[str, object]:
    """The SARIF log of one scan as plain data; `root` defaults to `scan_root(result)`."""
    known = {**LOCK_RULES, **(descriptions or {})}
    root = root if root is not None else scan_root(result)
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    rule_ids = sorted(by_rule)
    index = {rule: i for i, rule in enumerate(rule_ids)}
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "chainproof",
                "informationUri": INFORMATION_URI,
                "semanticVersion": chainproof.__version__,
                "version": chainproof.__version__,
                "rules": [rule_descriptor(r, by_rule[r], known) for r in rule_ids],
            }
        },
        "invocations": [_invocation(result.errors)],
        "results": [sarif_result(f, index[f.rule], root) for f in result.findings],
        "properties": {"target": result.target},
    }
    if root.uri is not None:
        run["originalUriBaseIds"] = {ROOT_ID: {"uri": root.uri}}
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def _invocation(errors: Sequence[str]) -> dict[str, object]:
    """The scan ran; parts it could not read are notifications, so a dashboard shows the gaps."""
    invocation: dict[str, object] = {"executionSuccessful": True}
    if errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": error}} for error in errors
        ]
    return invocation


def render(result: ScanResult) -> str:
    return json.dumps(to_sarif(result), indent=2, ensure_ascii=False) + "\n"
