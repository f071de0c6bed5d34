"""The advisories a scan uses, as `advisories list` shows them: the local database's records and
the bundled ones, merged as matching merges them, one row per affected package."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from chainproof.deps.advisories import db as advisory_db
from chainproof.deps.advisories.bundled import bundled_records
from chainproof.deps.advisories.match import merge
from chainproof.deps.advisories.osv import Affected, OsvRecord, describe_versions


@dataclass(frozen=True, kw_only=True)
class Listed:
    """One package an advisory affects, and where the advisory came from."""

    record: OsvRecord
    affected: Affected
    source: str
    """`local` (the database) or `bundled` (shipped with chainproof)."""

    def to_json(self) -> dict[str, Any]:
        """`{"id", "aliases", "package", "versions", "malicious", "withdrawn", "summary", "source"}`."""
        return {
            "id": self.record.id,
            "aliases": list(self.record.aliases),
            "package": self.affected.name,
            "versions": describe_versions(self.affected),
            "malicious": self.record.malicious,
            "withdrawn": self.record.withdrawn,
            "summary": self.record.summary,
            "source": self.source,
        }


def listed(package: str | None = None, db: Path | None = None) -> list[Listed]:
    """Every advisory a scan would match against, or only those naming `package` (a PEP 503
    name match). A local record shadows the bundled one it shares an id or alias with, as in a
    scan. `db` is the database (default: `db.default_path()`); a missing one has no records."""
    key = canonicalize_name(package) if package else None
    local = _local_records(db, key)
    local_ids = {r.id for r in local}
    return [
        Listed(record=record, affected=a, source="local" if record.id in local_ids else "bundled")
        for record in merge(local, list(bundled_records()))
        for a in record.packages()
        if key is None or a.key == key
    ]


def _local_records(path: Path | None, key: str | None) -> list[OsvRecord]:
    existing = advisory_db.open_existing(path)
    if existing is None:
        return []
    with closing(existing) as opened:
        return opened.lookup(key) if key else list(opened.all_records())
