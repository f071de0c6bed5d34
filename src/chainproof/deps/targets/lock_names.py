"""The name rules (typosquats and homoglyphs of popular projects) on the requirements of lock files.

A lock or requirements file names what will be installed before anything is: a look-alike name
there is caught before the package arrives. The checks are the installed-package ones
(`chainproof.deps.rules.names`), each finding placed at the entry's file and line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from chainproof.deps.model import Distribution, Finding
from chainproof.deps.rules.names import Popular, name_finding, popular
from chainproof.deps.targets.lock_model import LockEntry


def name_findings(entries: Iterable[LockEntry], table: Popular | None = None) -> list[Finding]:
    """A `name-typosquat` or `name-homoglyph` finding for each named entry that imitates a popular
    project. The locked project itself (uv's root entry) is the user's own and is not judged."""
    table = table or popular()
    found: list[Finding] = []
    for entry in entries:
        if not entry.name or entry.is_project:
            continue
        # The rule reads a distribution; a lock entry has a name and a version and no metadata dir.
        dist = Distribution(entry.name, entry.version or "", entry.path, entry.path)
        finding = name_finding(dist, table)
        if finding is not None:
            found.append(replace(finding, version=entry.version, path=entry.path, line=entry.line))
    return found
