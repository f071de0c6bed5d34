"""Matching installed distributions and pinned requirements against advisories.

The sources are the bundled landmark records plus the local database when one exists. The same
advisory can arrive from both (or under an alias); it is reported once, the database's copy first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from packaging.utils import canonicalize_name

from chainproof.deps.advisories import pypi_json
from chainproof.deps.advisories.bundled import bundled_records
from chainproof.deps.advisories.db import AdvisoryDB, open_existing
from chainproof.deps.advisories.osv import OsvRecord, affects, every_version, record_severity
from chainproof.deps.model import AdvisoryRef, Distribution, Finding, Requirement, Severity
from chainproof.deps.rules.base import ScanContext
from chainproof.errors import StoreError

RULE_MALICIOUS = "advisory-malicious"
RULE_VULNERABLE = "advisory-vulnerable"

Lookup = Callable[[str], Sequence[OsvRecord]]
"""Every record that names a normalised project key, the most authoritative first."""


def bundled_lookup(key: str) -> list[OsvRecord]:
    return [r for r in bundled_records() if any(a.key == key for a in r.packages())]


def combined_lookup(db: AdvisoryDB | None) -> Lookup:
    """The local database's records for a key, then the PyPI JSON API answers it caches, then the
    bundled ones (duplicates are merged later, among the records that match, since two copies of
    one advisory may cover different versions)."""

    def lookup(key: str) -> list[OsvRecord]:
        local = db.lookup(key) if db is not None else []
        answered = pypi_json.records(key, db.pypi_answers(key)) if db is not None else []
        return [*local, *answered, *bundled_lookup(key)]

    return lookup


def merge(primary: Sequence[OsvRecord], extra: Sequence[OsvRecord]) -> list[OsvRecord]:
    """`primary` records, plus each `extra` one that shares no id or alias with them.

    A shared advisory keeps the primary record's matching data; only the extra record's aliases and
    indicators of compromise are added, since a database copy often lacks the bundled IOCs.
    """
    merged = list(primary)
    for record in extra:
        twin = next((i for i, p in enumerate(merged) if p.ids & record.ids), None)
        if twin is None:
            merged.append(record)
        else:
            merged[twin] = _enrich(merged[twin], record)
    return merged


def _enrich(record: OsvRecord, other: OsvRecord) -> OsvRecord:
    aliases = tuple(dict.fromkeys((*record.aliases, *(i for i in other.ids if i != record.id))))
    iocs = {k: tuple(dict.fromkeys((*record.iocs.get(k, ()), *v))) for k, v in other.iocs.items()}
    iocs = {**record.iocs, **iocs}
    return replace(
        record,
        aliases=aliases,
        iocs=MappingProxyType(iocs),
        malware_marked=record.malware_marked or other.malicious,
    )


def matching(lookup: Lookup, name: str, version: str) -> list[OsvRecord]:
    """The records that cover release `version` of `name`, one per advisory.

    OSV's PyPI feed holds the same vulnerability as a PYSEC and a GHSA record aliasing each other;
    they are one advisory, reported once under the first record's id."""
    return merge([], [r for r in lookup(canonicalize_name(name)) if affects(r, name, version)])


def advisory_ref(record: OsvRecord) -> AdvisoryRef:
    # A plain dict: findings travel back from the worker processes that scan several archives,
    # and a mappingproxy cannot be pickled.
    iocs = {k: tuple(v) for k, v in record.iocs.items()}
    return AdvisoryRef(id=record.id, aliases=record.aliases, summary=record.summary, iocs=iocs)


def finding(record: OsvRecord, package: str, version: str | None, path: str, line: int | None) -> Finding:
    ids = record.id + (f" ({', '.join(record.aliases)})" if record.aliases else "")
    shown = f"{package} {version}" if version else package
    if record.malicious:
        rule, severity = RULE_MALICIOUS, Severity.CRITICAL
        message = f"{shown} is a known malicious release ({ids}); remove it and rotate exposed credentials"
    else:
        rule, severity = RULE_VULNERABLE, record_severity(record)
        message = f"{shown} has a known vulnerability ({ids})"
    evidence = record.summary
    if record.iocs:
        evidence += " | IOCs: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(record.iocs.items()))
    return Finding(
        rule=rule,
        severity=severity,
        package=package,
        version=version,
        path=path,
        line=line,
        message=message,
        evidence=evidence[:400],
        advisory=advisory_ref(record),
    )


def match_distributions(distributions: Iterable[Distribution], lookup: Lookup) -> Iterator[Finding]:
    for dist in distributions:
        for record in matching(lookup, dist.name, dist.version):
            yield finding(record, dist.name, dist.version, dist.metadata_dir, None)


def match_requirements(requirements: Iterable[Requirement], lookup: Lookup | None = None) -> list[Finding]:
    """Findings for pinned requirements (lock files). An unpinned one matches only records that
    cover every version of its project, since any release it resolves to is affected."""
    if lookup is None:
        refresh_pypi([(r.name, r.version) for r in requirements if r.version], None)
        with _database(None) as db:
            return match_requirements(requirements, combined_lookup(db))
    found: list[Finding] = []
    for req in requirements:
        path, line = _source(req.source)
        if req.version is not None:
            records = matching(lookup, req.name, req.version)
        else:
            records = merge(
                [],
                [
                    r
                    for r in lookup(req.key)
                    if not r.withdrawn and any(a.key == req.key and every_version(a) for a in r.packages())
                ],
            )
        found.extend(finding(r, req.name, req.version, path, line) for r in records)
    return found


def _source(source: str) -> tuple[str, int | None]:
    path, _, line = source.rpartition(":")
    if path and line.isascii() and line.isdigit() and len(line) <= 12:  # a line number, as int() reads it
        return path, int(line)
    return source, None


@dataclass(frozen=True)
class AdvisoryRule:
    """The scan rule: every distribution in the context against bundled records and the local database."""

    db_path: Path | None = None
    """None: the default database location (`$CHAINPROOF_HOME/advisories.db`), used only if it exists."""

    def __call__(self, ctx: ScanContext) -> Iterator[Finding]:
        refresh_pypi([(d.name, d.version) for d in ctx.distributions], self.db_path)
        with _database(self.db_path) as db:
            yield from list(match_distributions(ctx.distributions, combined_lookup(db)))


def refresh_pypi(releases: Sequence[tuple[str, str]], db_path: Path | None) -> pypi_json.Refresh:
    """Ask PyPI's JSON API about the releases (when online); a cache that cannot be written only
    means fewer answers, never a failed scan: the summary says which sources were used."""
    try:
        return pypi_json.refresh(releases, db_path)
    except StoreError as e:
        return pypi_json.Refresh(missing=len(releases), failure=str(e))


@contextmanager
def _database(path: Path | None) -> Iterator[AdvisoryDB | None]:
    """The local database opened read-only, or None when there is none."""
    db = open_existing(path)
    try:
        yield db
    finally:
        if db is not None:
            db.close()


advisory_rule = AdvisoryRule()
