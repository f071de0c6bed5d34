"""The pre-install gate's policy: what makes a resolved artifact unfit to install. Pure.

The resolver picks one file per project; the index says when that file was uploaded and whether
it is yanked; the download says what its bytes hash to. These checks turn those facts into
findings with the same shape as a scan's, so one report and one `--fail-on` cover both. Policy
findings block the install whatever `--fail-on` says: a cooldown that `--fail-on critical` could
waive would be no cooldown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from packaging.utils import canonicalize_name, canonicalize_version

from chainproof.deps.index import IndexFile, Project
from chainproof.deps.model import Finding, Severity
from chainproof.errors import UsageError

RULE_COOLDOWN = "gate-cooldown"
RULE_AGE_UNKNOWN = "gate-age-unknown"
RULE_YANKED = "gate-yanked"
RULE_NOT_ON_INDEX = "gate-not-on-index"
RULE_NEEDS_BUILD = "gate-needs-build"
RULE_HASH_MISMATCH = "gate-hash-mismatch"

POLICY_RULES = frozenset(
    {RULE_COOLDOWN, RULE_AGE_UNKNOWN, RULE_YANKED, RULE_NOT_ON_INDEX, RULE_NEEDS_BUILD, RULE_HASH_MISMATCH}
)
"""Rules that block at any `--fail-on`, once their severity reaches `high`."""

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def parse_age(text: str) -> timedelta:
    """`7d`, `36h`, `2w`, `90m`, `0`; a bare number is days."""
    match = _AGE.match(text.lower())
    if match is None:
        raise UsageError(f"bad age {text!r}: use a number with s, m, h, d or w (e.g. 7d, 36h)")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


def describe_age(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0", "")
    return f"{max(seconds, 0)}s"


@dataclass(frozen=True)
class Candidate:
    """One artifact the resolver chose to install."""

    name: str
    version: str
    url: str
    sha256: str | None
    """The hash the resolver announced (from the index or a `--hash` pin); None if it gave none."""
    requested: bool = False
    """Named by the user, not pulled in as a dependency."""

    @property
    def filename(self) -> str:
        return self.url.split("#", 1)[0].rsplit("/", 1)[-1]

    @property
    def key(self) -> str:
        return str(canonicalize_name(self.name))


@dataclass(frozen=True)
class Policy:
    min_age: timedelta
    now: datetime


def _policy_finding(rule: str, severity: Severity, c: Candidate, message: str, evidence: str = "") -> Finding:
    return Finding(rule, severity, c.name, c.version, c.filename, None, message, evidence)


def check_index_facts(c: Candidate, listed: IndexFile | None, policy: Policy) -> list[Finding]:
    """Cooldown, yank and provenance of one candidate, from what the index lists for its file."""
    if listed is None:
        return [
            _policy_finding(
                RULE_NOT_ON_INDEX,
                Severity.HIGH if policy.min_age else Severity.MEDIUM,
                c,
                "the resolver took this file from somewhere the index does not list it "
                "(a --find-links directory, another index or a URL), so its age and yank state "
                "are unknown",
                c.url,
            )
        ]
    found: list[Finding] = []
    if listed.yanked is not None:
        reason = f": {listed.yanked}" if listed.yanked else ""
        found.append(
            _policy_finding(RULE_YANKED, Severity.HIGH, c, f"the index marks this release yanked{reason}")
        )
    if policy.min_age:
        found += _age_findings(c, listed, policy)
    if c.sha256 and listed.sha256 and c.sha256.lower() != listed.sha256:
        found.append(
            _policy_finding(
                RULE_HASH_MISMATCH,
                Severity.CRITICAL,
                c,
                "the resolver and the index announce different sha256 for the same file",
                f"resolver {c.sha256.lower()} / index {listed.sha256}",
            )
        )
    return found


def _age_findings(c: Candidate, listed: IndexFile, policy: Policy) -> list[Finding]:
    if listed.upload_time is None:
        return [
            _policy_finding(
                RULE_AGE_UNKNOWN,
                Severity.HIGH,
                c,
                "the index gives no upload time for this file (PEP 700), so the cooldown cannot "
                "be checked; use an index that serves PEP 691 JSON, or --min-age 0",
            )
        ]
    age = policy.now - listed.upload_time
    if age >= policy.min_age:
        return []
    return [
        _policy_finding(
            RULE_COOLDOWN,
            Severity.HIGH,
            c,
            f"uploaded {describe_age(age)} ago, inside the {describe_age(policy.min_age)} cooldown: "
            "malicious releases are usually found and removed within hours to days",
            f"upload-time {listed.upload_time.isoformat()}",
        )
    ]


def integrity_finding(c: Candidate, actual_sha256: str) -> Finding | None:
    """A download whose bytes miss the resolver's hash (the index's is checked while downloading)."""
    if c.sha256 is None or c.sha256.lower() == actual_sha256:
        return None
    return _policy_finding(
        RULE_HASH_MISMATCH,
        Severity.CRITICAL,
        c,
        "the downloaded bytes do not match the hash the resolver announced",
        f"expected {c.sha256.lower()} got {actual_sha256}",
    )


def needs_build_finding(name: str, project: Project | None, index: str) -> Finding:
    """A requirement that no wheel satisfies: installing it would run its build backend."""
    versions = project.versions() if project else ()
    sdists = project is not None and any(not f.is_wheel for f in project.files)
    detail = (
        f"the index has only source distributions that fit (latest {versions[-1]})"
        if sdists and versions
        else f"no file on {index} fits this interpreter"
    )
    return Finding(
        RULE_NEEDS_BUILD,
        Severity.HIGH,
        name,
        None,
        index,
        None,
        f"no wheel satisfies {name!r}: {detail}; building an sdist runs its setup code at install time",
    )


def too_new_versions(project: Project, policy: Policy) -> list[str]:
    """Versions with any file uploaded inside the cooldown: what a re-resolution must exclude."""
    cutoff = policy.now - policy.min_age
    return sorted(
        {
            str(canonicalize_version(nv[1]))
            for f in project.files
            if f.upload_time is not None and f.upload_time > cutoff and (nv := f.name_version())
        }
    )


def blocking(findings: Iterable[Finding], fail_on: Severity) -> list[Finding]:
    """The findings that stop the install: any at `fail_on` or worse, and policy findings at high."""
    return [
        f
        for f in findings
        if f.severity >= fail_on or (f.rule in POLICY_RULES and f.severity >= Severity.HIGH)
    ]
