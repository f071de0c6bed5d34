"""Look-alike names in lock and requirements files: every format the guard reads gets the name rules."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from chainproof.deps.model import Finding, Requirement, ScanResult, Severity
from chainproof.deps.targets.lock_names import name_findings
from chainproof.deps.targets.locks import LockEntry, SourceKind, scan_lockfile

HASH = "sha256:" + "a" * 64


def no_advisories(_: Sequence[Requirement]) -> list[Finding]:
    return []


def scan(path: Path) -> ScanResult:
    return scan_lockfile(path, matcher=no_advisories)


def name_hits(result: ScanResult) -> dict[str, tuple[str, Severity, int | None]]:
    return {
        f.package or "": (f.rule, f.severity, f.line)
        for f in result.findings
        if f.rule in ("name-typosquat", "name-homoglyph")
    }


def _toml_package(table: str, name: str, extra: str) -> str:
    return f'[[{table}]]\nname = "{name}"\nversion = "1.0.0"\n{extra}\n\n'


def write_requirements(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text(
        f"requests==2.32.3 --hash={HASH}\n"
        f"reqeusts==2.32.3 \\\n    --hash={HASH}\n"
        f"nurnpy==2.0.0 --hash={HASH}\n"
    )
    return path


def write_poetry(tmp_path: Path) -> Path:
    files = f'files = [{{file = "x-1.0.0.tar.gz", hash = "{HASH}"}}]'
    path = tmp_path / "poetry.lock"
    text = "".join(_toml_package("package", n, files) for n in ("requests", "reqeusts", "nurnpy"))
    path.write_text(text)
    return path


def write_uv(tmp_path: Path) -> Path:
    source = 'source = { registry = "https://pypi.org/simple" }\n'
    sdist = f'sdist = {{ url = "https://files.example/x-1.0.0.tar.gz", hash = "{HASH}" }}'
    path = tmp_path / "uv.lock"
    head = "version = 1\nrevision = 2\n\n"
    body = "".join(_toml_package("package", n, source + sdist) for n in ("requests", "reqeusts", "nurnpy"))
    path.write_text(head + body)
    return path


def write_pylock(tmp_path: Path) -> Path:
    sdist = (
        'index = "https://pypi.org/simple"\n'
        f'sdist = {{ url = "https://files.example/x-1.0.0.tar.gz", hashes = {{ sha256 = "{"a" * 64}" }} }}'
    )
    path = tmp_path / "pylock.toml"
    head = 'lock-version = "1.0"\ncreated-by = "hand"\n\n'
    path.write_text(
        head + "".join(_toml_package("packages", n, sdist) for n in ("requests", "reqeusts", "nurnpy"))
    )
    return path


@pytest.mark.parametrize("write", [write_requirements, write_poetry, write_uv, write_pylock])
def test_every_lock_format_checks_names(tmp_path: Path, write: object) -> None:
    assert callable(write)
    result = scan(write(tmp_path))
    hits = name_hits(result)
    assert set(hits) == {"reqeusts", "nurnpy"}  # the popular name itself is never flagged
    assert hits["reqeusts"][:2] == ("name-typosquat", Severity.HIGH)
    assert hits["nurnpy"][:2] == ("name-homoglyph", Severity.CRITICAL)
    assert all(line is not None for _, _, line in hits.values())


def test_finding_points_at_the_requirement_line(tmp_path: Path) -> None:
    result = scan(write_requirements(tmp_path))
    found = next(f for f in result.findings if f.package == "reqeusts")
    assert (found.path, found.line, found.version) == ("requirements.txt", 2, "2.32.3")
    assert "requests" in found.message


def test_included_requirements_are_checked_too(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("reqeusts==2.32.3\n")
    top = tmp_path / "requirements.txt"
    top.write_text("-r base.txt\nrequests==2.32.3\n")
    found = [f for f in scan(top).findings if f.rule == "name-typosquat"]
    assert [(f.package, f.path, f.line) for f in found] == [("reqeusts", "base.txt", 1)]


def test_unnamed_and_project_entries_are_not_judged() -> None:
    entries = [
        LockEntry(None, None, SourceKind.URL, "r.txt", 1, False),
        LockEntry("reqeusts", "0.1.0", SourceKind.LOCAL, "uv.lock", 3, True, is_project=True),
        LockEntry("reqeusts", None, SourceKind.INDEX, "r.txt", 4, False),
    ]
    found = name_findings(entries)
    assert [(f.package, f.line, f.version) for f in found] == [("reqeusts", 4, None)]
