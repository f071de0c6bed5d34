"""Which advisory sources a scan used, for its summary: the bundled records always, the local OSV
database when it holds records, and PyPI's JSON API for the releases it has answered about.

Worked out from the database after the scan, not remembered while scanning: rules may run in child
processes, and what counts is what the cache holds for the releases scanned.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from packaging.utils import canonicalize_name

from chainproof.deps.advisories import pypi_json
from chainproof.deps.advisories.db import open_existing
from chainproof.deps.model import ScanResult

BUNDLED = "bundled records"
MAY_BE_MISSING = "vulnerability data may be missing"


def releases_of(result: ScanResult) -> list[tuple[str, str]]:
    """(name, version) of every package and pinned requirement in the result."""
    found = [(d.name, d.version) for d in result.packages]
    found += [(r.name, r.version) for r in result.requirements if r.version]
    return found


def describe(releases: Iterable[tuple[str, str]], db_path: Path | None = None) -> tuple[list[str], list[str]]:
    """(sources used, notes): a note says when some releases have no PyPI answer, and why."""
    wanted = sorted({(canonicalize_name(n), v) for n, v in releases if n and v})
    used = [BUNDLED]
    answered = 0
    db = open_existing(db_path)
    if db is not None:
        with closing(db):
            if records := db.count():
                used.append(f"local OSV database ({records} records)")
            answered = sum(db.pypi_answer(k, v) is not None for k, v in wanted)
    if answered:
        part = "" if answered == len(wanted) else f", {answered} of {len(wanted)} releases"
        used.append(f"{pypi_json.SOURCE}{part}")
    notes = []
    if answered < len(wanted):
        why = "offline" if pypi_json.offline() else f"{pypi_json.SOURCE} not reachable or not listing them"
        missing = f"no PyPI answer for {len(wanted) - answered} of {len(wanted)} releases"
        notes.append(f"{why}: {missing}, {MAY_BE_MISSING}")
    return used, notes
