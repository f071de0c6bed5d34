"""The landmark malicious-package records shipped inside chainproof, consulted on every match.

They are written from public reports (one OSV JSON file each under `bundled/`), so a scan knows the
cases the issue names even before any advisory database has been imported. They add to, and never
replace, what a local database says.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from chainproof.deps.advisories.osv import OsvRecord, parse_text


@cache
def bundled_records() -> tuple[OsvRecord, ...]:
    folder = resources.files("chainproof.deps.advisories") / "bundled"
    records = [
        parse_text(entry.read_bytes(), f"bundled/{entry.name}")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    ]
    return tuple(records)
