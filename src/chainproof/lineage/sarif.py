"""A verify report as SARIF 2.1.0: one result per problem, located at the log entry that shows it.

A custody problem has no source file; its location is logical: the log entry (`entry 12`, kind
`member` of the log) and the artifact it concerns. The fingerprint is the artifact, the entry and
the problem, so that a dashboard keeps one alert per problem across runs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import chainproof
from chainproof.deps.report.sarif import INFORMATION_URI, SARIF_VERSION, SCHEMA_URI
from chainproof.lineage.verify import VerifyReport

RULES = {
    "custody-hop": "A hop of the artifact's custody breaks the policy",
    "custody-lineage": "The artifact's lineage has a gap: an input no recorded hop produced",
}
FINGERPRINT_KEY = "chainproofCustody/v1"


def _rule(rule_id: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": rule_id.replace("-", " "),
        "shortDescription": {"text": RULES[rule_id]},
        "helpUri": f"{INFORMATION_URI}docs/custody.md",
        "defaultConfiguration": {"level": "error"},
        "properties": {"security-severity": "8.0", "tags": ["security", "supply-chain"]},
    }


def to_sarif(report: VerifyReport) -> dict[str, Any]:
    results = []
    for hop in report.hops:
        for problem in hop.problems:
            results.append(_result("custody-hop", report.artifact, hop.index, f"{hop.hop.value}: {problem}"))
    for index, problem in report.problems:
        results.append(_result("custody-lineage", report.artifact, index, problem))
    return {
        "$schema": SCHEMA_URI,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "chainproof",
                        "version": chainproof.__version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(r) for r in RULES],
                    }
                },
                "results": results,
                "properties": {"artifact": report.artifact, "ok": report.ok},
            }
        ],
    }


def _result(rule_id: str, artifact: str, index: int | None, message: str) -> dict[str, Any]:
    where = f"entry {index}" if index is not None else "the lineage"
    fingerprint = hashlib.sha256(f"{artifact}\0{index}\0{message}".encode()).hexdigest()
    return {
        "ruleId": rule_id,
        "ruleIndex": list(RULES).index(rule_id),
        "level": "error",
        "message": {"text": f"{where}: {message}"},
        "locations": [
            {
                "logicalLocations": [
                    {"name": where, "fullyQualifiedName": f"{artifact}/{where}", "kind": "member"}
                ]
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        "properties": {"artifact": artifact, "index": index},
    }


def render(report: VerifyReport) -> str:
    return json.dumps(to_sarif(report), indent=2) + "\n"
