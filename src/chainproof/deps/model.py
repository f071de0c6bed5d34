"""The values the dependency guard works with: severities, findings, distributions, scan results.

Pure data: every part of the guard (targets, inventory, advisories, rules, reports) speaks in
these types, and none of them imports, builds or runs what it scans.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.utils import canonicalize_name

from chainproof.errors import UsageError


class Severity(enum.IntEnum):
    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise UsageError(f"unknown severity {text!r}; use one of {names}") from None

    def raised(self, steps: int = 1) -> Severity:
        return Severity(min(Severity.CRITICAL, self + steps))

    def lowered(self, steps: int = 1) -> Severity:
        return Severity(max(Severity.INFO, self - steps))

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class AdvisoryRef:
    """The advisory a finding matched: enough to look it up and to act on it."""

    id: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    iocs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Indicators of compromise from the record's `database_specific.iocs`, e.g. hosts, files."""


@dataclass(frozen=True)
class Finding:
    rule: str
    """The rule id, e.g. `hook-pth-exec`; docs/rules.md lists them all."""
    severity: Severity
    package: str | None
    """The distribution the file belongs to, as its metadata names it; None for an orphan."""
    version: str | None
    path: str
    """Where, relative to the scanned root (site-packages, archive or lock file), with `/`."""
    line: int | None
    message: str
    """One line for a person: what was seen and why it matters."""
    evidence: str = ""
    """A short snippet of what was seen, at most a line or two, never the whole payload."""
    advisory: AdvisoryRef | None = None


@dataclass(frozen=True)
class RecordEntry:
    """One line of a wheel RECORD: a path, its hash (algorithm and raw digest) and its size."""

    path: str
    algorithm: str | None
    digest: bytes | None
    size: int | None


@dataclass(frozen=True)
class Distribution:
    """An installed or packaged distribution, read from its metadata directory."""

    name: str
    version: str
    metadata_dir: str
    """The `*.dist-info` or `*.egg-info` directory, relative to the scanned root."""
    location: str
    """The scanned root this distribution was found in (a site-packages dir or an archive)."""
    installer: str | None = None
    direct_url: Mapping[str, object] | None = None
    record: tuple[RecordEntry, ...] | None = None
    """RECORD lines, or None where the distribution has none (egg-info, or a missing file)."""
    requires: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """The PEP 503 normalised name: how indexes and advisories name a project."""
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class Requirement:
    """A pinned requirement from a lock or requirements file, with the hashes it pins."""

    name: str
    version: str | None
    hashes: tuple[str, ...] = ()
    """`sha256:<hex>` strings."""
    source: str = ""
    """Where it was read: `file:line`."""

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass
class ScanResult:
    target: str
    packages: list[Distribution] = field(default_factory=list)
    requirements: list[Requirement] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Parts that could not be read (a corrupt archive member, an unreadable directory)."""
    advisory_sources: list[str] = field(default_factory=list)
    """The advisory sources the scan matched against (filled in by `scan.scan_all`)."""
    notes: list[str] = field(default_factory=list)
    """What the reader should know that is neither a finding nor an error (advisory data missing)."""

    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def at_or_above(self, level: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= level]
