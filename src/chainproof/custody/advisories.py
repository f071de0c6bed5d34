"""The advisories as they stand now, for judging recorded environments: the bundled records and
the local database (`chainproof advisories import|update`).

A recorded environment keeps its packages, so it is judged again whenever it is verified: an
advisory published after training still taints the model. Findings of the advisory rules stored
with the record are replaced by today's matches (an advisory withdrawn since no longer counts).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from chainproof.custody.records import Environment
from chainproof.deps.advisories.bundled import bundled_records
from chainproof.deps.advisories.db import AdvisoryDB, open_existing
from chainproof.deps.advisories.match import (
    RULE_MALICIOUS,
    RULE_VULNERABLE,
    combined_lookup,
    finding,
    matching,
)
from chainproof.deps.advisories.osv import OsvRecord
from chainproof.deps.model import Severity
from chainproof.errors import UsageError

_ADVISORY_RULES = (RULE_MALICIOUS, RULE_VULNERABLE)


class Advisories:
    """Open with `Advisories.open()`; close when done."""

    def __init__(self, db: AdvisoryDB | None) -> None:
        self.db = db
        self._lookup = combined_lookup(db)

    @classmethod
    def open(cls, path: Path | None = None) -> Advisories:
        return cls(open_existing(path))

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    def __enter__(self) -> Advisories:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def judge(self, env: Environment) -> list[tuple[str, Severity, str | None]]:
        """The environment's findings as they stand now: (rule, severity, package)."""
        now = [(f.rule, f.severity, f.package) for f in env.findings if f.rule not in _ADVISORY_RULES]
        for p in env.packages:
            for record in matching(self._lookup, p.name, p.version):
                f = finding(record, p.name, p.version, "", None)
                now.append((f.rule, f.severity, p.name))
        return now

    def covering(self, name: str, version: str) -> list[str]:
        """The ids of the advisories that cover release `version` of `name`."""
        return [r.id for r in matching(self._lookup, name, version)]

    def advisory(self, advisory_id: str) -> OsvRecord:
        """The record with this id or alias; `UsageError` when none is known."""
        wanted = advisory_id.strip()
        for record in self._records():
            if wanted in record.ids:
                return record
        raise UsageError(f"no advisory {advisory_id!r} is known here (see `chainproof advisories import`)")

    def _records(self) -> Sequence[OsvRecord]:
        stored = list(self.db.all_records()) if self.db is not None else []
        return [*stored, *bundled_records()]


def affected_names(record: OsvRecord) -> list[str]:
    """The PyPI projects an advisory names, canonical."""
    return sorted({canonicalize_name(a.name) for a in record.packages()})
