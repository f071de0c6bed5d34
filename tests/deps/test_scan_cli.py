"""The scan orchestration, the reports, and `chainproof deps scan` end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deps_support import make_dist, make_wheel, site_of, wheel_members, write_zip

from chainproof.cli.app import main
from chainproof.deps import report, scan
from chainproof.deps.files import TreeError
from chainproof.deps.model import AdvisoryRef, Distribution, Finding, ScanResult, Severity
from chainproof.deps.report import json_report, table
from chainproof.deps.rules import registry
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.targets.directory import DirectoryTree
from chainproof.errors import UsageError

CHAINPROOF = Path(sys.executable).parent / "chainproof"
FINDING_KEYS = {"rule", "severity", "package", "version", "path", "line", "message", "evidence", "advisory"}


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def deps(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NO_COLOR", "1")

    def run(*args: object) -> Run:
        code = main(["deps", *map(str, args)])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        if code == 2:
            assert err.count("\n") >= 1
        return Run(code, out, err)

    return run


def _finding(severity: Severity, path: str, rule: str = "r", line: int | None = None) -> Finding:
    return Finding(rule, severity, "p", "1", path, line, "m")


# --- orchestration ---


def test_findings_are_sorted_by_severity_then_path() -> None:
    unsorted = [
        _finding(Severity.LOW, "a"),
        _finding(Severity.CRITICAL, "z"),
        _finding(Severity.HIGH, "b", line=9),
        _finding(Severity.HIGH, "b", line=2),
        _finding(Severity.CRITICAL, "c"),
    ]
    ordered = sorted(unsorted, key=scan.sort_key)
    assert [(f.severity, f.path, f.line) for f in ordered] == [
        (Severity.CRITICAL, "c", None),
        (Severity.CRITICAL, "z", None),
        (Severity.HIGH, "b", 2),
        (Severity.HIGH, "b", 9),
        (Severity.LOW, "a", None),
    ]


def test_a_failing_rule_does_not_stop_the_scan(site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})

    def broken_read(ctx: ScanContext) -> Iterator[Finding]:
        yield _finding(Severity.MEDIUM, "before-the-error")
        raise TreeError("alpha.py: cannot read (Permission denied)")

    def buggy(ctx: ScanContext) -> Iterator[Finding]:
        raise ValueError("unexpected input")

    def fine(ctx: ScanContext) -> Iterator[Finding]:
        yield _finding(Severity.HIGH, "from-the-last-rule")

    result = scan.scan_tree(DirectoryTree(site), rules=[broken_read, buggy, fine])
    assert [f.path for f in result.findings] == ["from-the-last-rule", "before-the-error"]
    assert len(result.errors) == 2
    assert "broken_read: alpha.py: cannot read" in result.errors[0]
    assert "buggy failed: ValueError: unexpected input" in result.errors[1]


def test_scan_dispatch(site: Path, tmp_path: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})
    venv_result = scan.scan(site.parents[2])
    assert [d.name for d in venv_result.packages] == ["alpha"]
    wheel = make_wheel(tmp_path, "demo", "1.0", {"demo.py": ""})
    assert [d.name for d in scan.scan(wheel).packages] == ["demo"]
    with pytest.raises(UsageError, match="no such file"):
        scan.scan(tmp_path / "missing")
    odd = tmp_path / "notes.md"
    odd.write_text("x")
    with pytest.raises(UsageError, match="not a directory, wheel, sdist"):
        scan.scan(odd)


def test_lock_files_go_to_the_lock_scanner(tmp_path: Path) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("six==1.16.0\n")
    result = scan.scan(req)
    assert [r.key for r in result.requirements] == ["six"]
    packages = json.loads(json_report.render(result))["packages"]
    assert packages == [{"name": "six", "version": "1.16.0", "location": "requirements.txt:1"}]


def test_archive_problems_become_findings(tmp_path: Path) -> None:
    members = wheel_members("demo", "1.0", {"demo.py": ""})
    members["../../etc/evil.pth"] = b"import os\n"
    result = scan.scan(write_zip(tmp_path / "demo-1.0-py3-none-any.whl", members))
    unsafe = [f for f in result.findings if f.rule == "archive-unsafe-member"]
    assert [(f.path, f.severity, f.package) for f in unsafe] == [
        ("../../etc/evil.pth", Severity.HIGH, "demo")
    ]


def test_combine() -> None:
    a = ScanResult("a", findings=[_finding(Severity.LOW, "x")], errors=["e1"])
    b = ScanResult("b", findings=[_finding(Severity.HIGH, "y")])
    both = scan.combine([a, b])
    assert both.target == "a, b"
    assert [f.path for f in both.findings] == ["y", "x"]
    assert both.errors == ["e1"]


# --- reports ---


def test_json_report_contract() -> None:
    ref = AdvisoryRef("MAL-2026-2144", ("PYSEC-2026-2",), "malicious", {"hosts": ("models.litellm.cloud",)})
    result = ScanResult(
        "t",
        packages=[Distribution("litellm", "1.82.8", "litellm-1.82.8.dist-info", "/site")],
        findings=[
            Finding("advisory-malicious", Severity.CRITICAL, "litellm", "1.82.8", "x", 3, "bad", "ev", ref)
        ],
        errors=["oops"],
    )
    obj = json.loads(json_report.render(result))
    assert set(obj) == {"packages", "findings", "summary"}
    assert obj["packages"] == [{"name": "litellm", "version": "1.82.8", "location": "/site"}]
    (f,) = obj["findings"]
    assert set(f) == FINDING_KEYS
    assert f["severity"] == "critical"
    assert f["line"] == 3
    assert f["advisory"] == {
        "id": "MAL-2026-2144",
        "aliases": ["PYSEC-2026-2"],
        "summary": "malicious",
        "iocs": {"hosts": ["models.litellm.cloud"]},
    }
    summary = obj["summary"]
    assert summary["by_severity"] == {"critical": 1, "high": 0, "medium": 0, "low": 0, "info": 0}
    assert (summary["packages"], summary["findings"], summary["worst"], summary["errors"]) == (
        1,
        1,
        "critical",
        ["oops"],
    )


def test_table_report() -> None:
    result = ScanResult(
        "t", findings=[Finding("orphan-file", Severity.CRITICAL, None, None, "x.pth", 1, "hook")]
    )
    text = table.render(result)
    assert "orphan-file" in text
    assert "x.pth:1" in text
    assert "critical" in text
    assert "\x1b[" not in text
    assert table.summary_line(result) == "0 packages, 1 finding (1 critical)"


def test_unknown_and_missing_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="unknown format"):
        report.render("xml", ScanResult("t"))
    missing = report._lazy("sarif", "chainproof.deps.report.no_such_format")
    with pytest.raises(UsageError, match="the sarif format is not available"):
        missing(ScanResult("t"))


# --- the command ---


def test_help_explains_the_options(deps: Any) -> None:
    run = deps("scan", "--help")
    assert run.code == 0
    for word in ("--python", "--format", "--fail-on", "--output", "TARGET", "sdist", "Exit codes"):
        assert word in run.out


def test_clean_site_exits_0(deps: Any, site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n"})
    run = deps("scan", site.parents[2], "--format", "json")
    assert run.code == 0
    obj = run.json()
    assert [p["name"] for p in obj["packages"]] == ["alpha"]
    assert [f for f in obj["findings"] if f["severity"] in ("high", "critical")] == []
    assert "1 package," in run.err


def test_planted_files_exit_1(deps: Any, site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n"})
    (site / "alpha" / "__init__.py").write_text("A = 1\nimport os\n")
    (site / "zz_init.pth").write_text("import os; os.system('true')\n")
    run = deps("scan", site, "--format", "json")
    assert run.code == 1
    got = {(f["rule"], f["severity"], f["path"]) for f in run.json()["findings"]}
    assert ("record-mismatch", "high", "alpha/__init__.py") in got
    assert ("orphan-file", "critical", "zz_init.pth") in got
    # The threshold decides the exit code.
    assert deps("scan", site, "--format", "json", "--fail-on", "critical").code == 1
    (site / "zz_init.pth").unlink()
    assert deps("scan", site, "--format", "json", "--fail-on", "critical").code == 0
    assert deps("scan", site, "--fail-on", "high").code == 1


def test_output_file_and_several_targets(deps: Any, site: Path, tmp_path: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})
    wheel = make_wheel(tmp_path / "w", "demo", "2.0", {"demo.py": ""})
    out = tmp_path / "report.json"
    run = deps("scan", site, wheel, "--format", "json", "--output", out)
    assert run.code == 0
    assert run.out == ""
    obj = json.loads(out.read_text())
    assert sorted((p["name"], p["location"]) for p in obj["packages"]) == [
        ("alpha", str(site)),
        ("demo", str(wheel)),
    ]


def test_errors_are_one_line_and_exit_2(deps: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad-1.0-py3-none-any.whl"
    bad.write_bytes(b"PK\x03\x04truncated")
    for args in ((tmp_path / "missing",), (bad,), ("--python", tmp_path / "nope"), ("--fail-on", "severe")):
        run = deps("scan", *args)
        assert run.code == 2, args
        assert run.out == ""


def test_partial_scan_exits_2(deps: Any, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})

    def unreadable(ctx: ScanContext) -> Iterator[Finding]:
        raise TreeError("alpha.py: cannot read (Permission denied)")
        yield  # pragma: no cover

    monkeypatch.setattr(registry, "RULES", [unreadable])
    run = deps("scan", site, "--format", "json")
    assert run.code == 2
    assert "Permission denied" in run.json()["summary"]["errors"][0]
    assert "incomplete" in run.err


def test_json_is_format_json(deps: Any, site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})
    (site / "zz_init.pth").write_text("import os; os.system('true')\n")
    as_json = deps("scan", site, "--json")
    assert as_json.code == 1
    assert as_json.out == deps("scan", site, "--format", "json").out
    assert as_json.json()["summary"]["worst"] == "critical"
    conflict = deps("scan", site, "--json", "--format", "sarif")
    assert conflict.code == 2
    assert json.loads(conflict.out)["error"] == (
        "--json and --format sarif ask for different reports; give one of them"
    )


def test_one_scan_writes_every_report(
    deps: Any, site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})
    (site / "zz_init.pth").write_text("import os; os.system('true')\n")
    calls = []
    real = scan.scan_targets
    monkeypatch.setattr(scan, "scan_targets", lambda *a, **k: calls.append(a) or real(*a, **k))
    files = {fmt: tmp_path / f"out.{fmt}" for fmt in ("json", "sarif", "cyclonedx", "table")}
    run = deps("scan", site, "--json", *(f"--report={fmt}={path}" for fmt, path in files.items()))
    assert run.code == 1
    assert len(calls) == 1
    assert run.err.count("\n") == 1  # one summary line
    assert files["json"].read_text() == run.out
    assert json.loads(files["sarif"].read_text())["version"] == "2.1.0"
    assert json.loads(files["cyclonedx"].read_text())["bomFormat"] == "CycloneDX"
    assert files["table"].read_text().startswith(f"scanned {site}: 1 package, ")


@pytest.mark.parametrize(
    ("report", "fragment"),
    [("xml=out.xml", "'xml' is not one of table, json"), ("json", "'json' is not FORMAT=FILE")],
)
def test_a_bad_report_is_refused_before_the_scan(
    deps: Any, site: Path, monkeypatch: pytest.MonkeyPatch, report: str, fragment: str
) -> None:
    monkeypatch.setattr(scan, "scan_targets", lambda *a, **k: pytest.fail("scanned"))
    run = deps("scan", site, "--report", report)
    assert run.code == 2
    assert fragment in run.err


def test_two_reports_into_one_file_are_refused(deps: Any, site: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    run = deps("scan", site, "--report", f"json={out}", "--report", f"sarif={out}")
    assert run.code == 2
    assert "is named for more than one report" in run.err
    assert not out.exists()


def test_the_table_names_a_finding_without_a_package(deps: Any, site: Path) -> None:
    (site / "zz_init.pth").write_text("import os; os.system('true')\n")
    run = deps("scan", site)
    assert run.code == 1
    row = next(line for line in run.out.splitlines() if "orphan-file" in line)
    assert "no package" in row
    assert " - " not in row


def test_sarif_and_cyclonedx_formats(deps: Any, site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})
    for fmt in ("sarif", "cyclonedx"):
        run = deps("scan", site, "--format", fmt)
        if run.code == 2:
            assert f"the {fmt} format is not available" in run.err
        else:
            assert run.code == 0
            assert isinstance(run.json(), dict)


def test_fresh_venv_end_to_end(fresh_venv: Path, tmp_path: Path) -> None:
    """The installed console script on a real venv: exit 0; then planted copies fail at high."""
    clean = subprocess.run(
        [CHAINPROOF, "deps", "scan", fresh_venv, "--format", "json"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert clean.returncode == 0, clean.stderr
    obj = json.loads(clean.stdout)
    assert {"pip"} <= {p["name"] for p in obj["packages"]}
    assert obj["summary"]["worst"] in (None, "info", "low", "medium")

    copy = tmp_path / "venv"
    shutil.copytree(fresh_venv, copy, symlinks=True)
    sp = site_of(copy)
    (sp / "pip" / "__init__.py").write_bytes((sp / "pip" / "__init__.py").read_bytes() + b"\n# changed\n")
    (sp / "litellm_init.pth").write_text("import os, subprocess, sys; subprocess.Popen([sys.executable])\n")
    planted = subprocess.run(
        [CHAINPROOF, "deps", "scan", copy, "--format", "json", "--fail-on", "high"],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert planted.returncode == 1
    high = {
        (f["rule"], f["path"])
        for f in json.loads(planted.stdout)["findings"]
        if f["severity"] in ("high", "critical")
    }
    assert {("record-mismatch", "pip/__init__.py"), ("orphan-file", "litellm_init.pth")} <= high


def test_python_option_scans_a_venv_interpreter(deps: Any, fresh_venv: Path) -> None:
    run = deps("scan", "--python", fresh_venv / "bin" / "python", "--format", "json")
    assert run.code == 0
    assert "pip" in {p["name"] for p in run.json()["packages"]}
