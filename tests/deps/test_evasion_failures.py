"""A rule that fails on one file, or altogether, never silences the other files or rules.

Payloads are harmless replicas: base64 of `print('hello world')` handed to exec.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deps_support import make_sdist, make_wheel, wheel_members

from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules import code, hooks, registry
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.scan import scan, scan_tree
from chainproof.deps.targets.archive import open_archive

P64 = "cHJpbnQoJ2hlbGxvIHdvcmxkJyk="
PAYLOAD = f"import base64\nexec(base64.b64decode('{P64}'))\n"


def test_an_analysis_that_fails_on_one_file_reports_it_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = code.findings_for

    def fragile(where: code.Where, a: code.Analysis) -> Iterator[Finding]:
        if where.path.endswith("boom.py"):
            raise RuntimeError("a defect the hostile file trips")
        return real(where, a)

    monkeypatch.setattr(code, "findings_for", fragile)
    sdist = make_sdist(tmp_path, "two", "1.0", {"two/boom.py": PAYLOAD, "two/other.py": PAYLOAD})
    result = scan(sdist)
    found = {(f.rule, f.path): f for f in result.findings}
    assert found["code-exec-decoded", "two-1.0/two/other.py"].severity is Severity.CRITICAL
    boom = found["code-unparsed-capability", "two-1.0/two/boom.py"]
    assert boom.severity is Severity.HIGH
    assert "RuntimeError" in boom.message


def test_a_rule_that_stops_is_an_error_while_the_others_report(tmp_path: Path) -> None:
    def broken(ctx: ScanContext) -> Iterator[Finding]:
        yield Finding("r", Severity.LOW, None, None, "first", None, "found before it stopped")
        raise RuntimeError("not one of the errors a rule was expected to raise")

    sdist = make_sdist(tmp_path, "rule", "1.0", {"rule/__init__.py": PAYLOAD})
    result = scan_tree(open_archive(sdist), [broken, *registry.RULES])
    assert [e.split(": ", 1)[1] for e in result.errors] == [
        "broken failed: RuntimeError: not one of the errors a rule was expected to raise"
    ]
    rules = {f.rule for f in result.findings}
    assert {"r", "code-exec-decoded"} <= rules


def test_an_unreadable_member_is_reported_not_skipped(tmp_path: Path) -> None:
    wheel = tmp_path / "crc-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for name, data in wheel_members("crc", "1.0", {"crc/__init__.py": PAYLOAD}).items():
            zf.writestr(name, data)
    raw = bytearray(wheel.read_bytes())
    raw[raw.index(b"import base64")] ^= 0x20  # the member's CRC no longer matches
    wheel.write_bytes(bytes(raw))
    found = {(f.rule, f.path): f for f in scan(wheel).findings}
    assert found["code-unparsed", "crc/__init__.py"].severity is Severity.LOW
    assert "could not be read" in found["code-unparsed", "crc/__init__.py"].message


def test_pyw_files_are_source_too(tmp_path: Path) -> None:
    # The import system loads `.pyw` as source on Windows: a payload there runs on import.
    wheel = make_wheel(tmp_path, "win", "1.0", {"win/__init__.py": "", "win/gui.pyw": PAYLOAD})
    found = {(f.rule, f.path): f.severity for f in scan(wheel).findings}
    assert found["code-exec-decoded", "win/gui.pyw"] is Severity.CRITICAL


def test_a_sitecustomize_pyw_is_judged_as_a_startup_hook(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "hookw", "1.0", {"sitecustomize.pyw": PAYLOAD})
    found = {(f.rule, f.path): f.severity for f in scan(wheel).findings}
    assert found["code-exec-decoded", "sitecustomize.pyw"] is Severity.CRITICAL


def test_a_startup_hook_the_analysis_trips_on_is_reported_and_the_others_still_judged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = hooks._pth_findings

    def fragile(ctx: ScanContext, path: str, text: str, present: frozenset[str]) -> Iterator[Finding]:
        if path.endswith("boom.pth"):
            raise RuntimeError("a defect the hostile hook trips")
        return real(ctx, path, text, present)

    monkeypatch.setattr(hooks, "_pth_findings", fragile)
    wheel = make_wheel(tmp_path, "hooked", "1.0", {"boom.pth": PAYLOAD, "other.pth": PAYLOAD})
    result = scan(wheel)
    assert not result.errors
    found = {(f.rule, f.path): f for f in result.findings}
    assert found["hook-unreadable", "boom.pth"].severity is Severity.HIGH
    assert "RuntimeError" in found["hook-unreadable", "boom.pth"].message
    assert any(path == "other.pth" and f.severity >= Severity.HIGH for (_, path), f in found.items())
