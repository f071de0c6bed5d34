"""The local advisory database, the bundled records, and matching distributions and requirements."""

from __future__ import annotations

import functools
import http.server
import json
import socket
import sqlite3
import threading
import zipfile
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import pytest

from chainproof.cli.app import exit_code
from chainproof.deps.advisories import db as advisory_db
from chainproof.deps.advisories.bundled import bundled_records
from chainproof.deps.advisories.match import (
    AdvisoryRule,
    bundled_lookup,
    combined_lookup,
    match_distributions,
    match_requirements,
    merge,
)
from chainproof.deps.advisories.osv import AdvisoryFormatError, parse_record
from chainproof.deps.files import TargetKind
from chainproof.deps.model import Distribution, Requirement, Severity
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.targets.directory import DirectoryTree
from chainproof.errors import StoreError, UsageError


def record(
    rid: str,
    name: str = "demo-pkg",
    versions: list[str] | None = None,
    modified: str = "2025-01-01T00:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    affected = {"package": {"ecosystem": "PyPI", "name": name}, "versions": versions or ["1.0"]}
    return {"id": rid, "modified": modified, "affected": [affected], **extra}


def write(path: Path, obj: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def osv_zip(path: Path, records: list[dict[str, Any]], extra: dict[str, bytes] | None = None) -> Path:
    """The layout of OSV's `PyPI/all.zip`: one `<id>.json` per record at the top level."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for obj in records:
            zf.writestr(f"{obj['id']}.json", json.dumps(obj))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def dist(name: str, version: str) -> Distribution:
    return Distribution(name, version, f"{name}-{version}.dist-info", "site-packages")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "home" / "advisories.db"


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No test may read or write the user's real advisory database.
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "chainproof-home"))


def stored(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT id, modified FROM records"))


# --- importing -----------------------------------------------------------------------------------


def test_default_path_follows_chainproof_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert advisory_db.default_path() == tmp_path / "chainproof-home" / "advisories.db"
    monkeypatch.delenv("CHAINPROOF_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "u"))
    assert advisory_db.default_path() == tmp_path / "u" / ".cache" / "chainproof" / "advisories.db"


def test_import_files_directories_and_zips(tmp_path: Path, db_path: Path) -> None:
    one = write(tmp_path / "one.json", record("PYSEC-1"))
    folder = tmp_path / "feed"
    write(folder / "a.json", record("PYSEC-2", name="alpha"))
    write(folder / "nested" / "b.json", record("PYSEC-3", name="beta"))
    (folder / "README.txt").write_text("not a record")
    archive = osv_zip(tmp_path / "all.zip", [record("GHSA-4", name="gamma"), record("MAL-5", name="delta")])
    stats = advisory_db.import_paths([one, folder, archive], db_path)
    assert (stats.added, stats.updated, stats.unchanged) == (5, 0, 0)
    with advisory_db.open_db(db_path) as db:
        assert db.count() == 5
        assert [r.id for r in db.lookup("alpha")] == ["PYSEC-2"]
        assert [r.id for r in db.lookup("delta")] == ["MAL-5"]
        assert db.lookup("nothing") == []


def test_reimport_is_idempotent_and_keeps_the_newest(tmp_path: Path, db_path: Path) -> None:
    path = write(tmp_path / "r.json", record("PYSEC-1", versions=["1.0"]))
    advisory_db.import_paths([path], db_path)
    again = advisory_db.import_paths([path], db_path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 1)

    newer = write(tmp_path / "newer.json", record("PYSEC-1", name="renamed", modified="2025-06-01T00:00:00Z"))
    assert advisory_db.import_paths([newer], db_path).updated == 1
    older = write(tmp_path / "older.json", record("PYSEC-1", modified="2024-01-01T00:00:00Z"))
    assert advisory_db.import_paths([older], db_path).unchanged == 1

    assert stored(db_path) == {"PYSEC-1": "2025-06-01T00:00:00Z"}
    with advisory_db.open_db(db_path) as db:
        # The package index follows the replacement: the old name no longer finds the record.
        assert db.lookup("demo-pkg") == []
        assert [r.id for r in db.lookup("renamed")] == ["PYSEC-1"]


def test_one_malformed_record_rejects_the_whole_import(tmp_path: Path, db_path: Path) -> None:
    advisory_db.import_paths([write(tmp_path / "first.json", record("PYSEC-0"))], db_path)
    folder = tmp_path / "feed"
    write(folder / "a-good.json", record("PYSEC-1"))
    (folder / "b-bad.json").write_text('{"id": "PYSEC-2", "affected": "oops"}')
    with pytest.raises(AdvisoryFormatError, match=r"b-bad\.json: PYSEC-2 affected: must be a list"):
        advisory_db.import_paths([folder], db_path)
    assert stored(db_path) == {"PYSEC-0": "2025-01-01T00:00:00Z"}


def test_malformed_zip_member_is_named(tmp_path: Path, db_path: Path) -> None:
    archive = osv_zip(tmp_path / "all.zip", [record("PYSEC-1")], {"PYSEC-2.json": b"\xff\xfe not json"})
    with pytest.raises(AdvisoryFormatError, match=r"all\.zip:PYSEC-2\.json: not valid JSON"):
        advisory_db.import_paths([archive], db_path)
    assert not db_path.exists() or stored(db_path) == {}


def test_oversized_records_are_refused(
    tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(advisory_db, "MAX_RECORD_BYTES", 200)
    big = record("PYSEC-1", details="x" * 500)
    with pytest.raises(AdvisoryFormatError, match="larger than 200 bytes"):
        advisory_db.import_paths([write(tmp_path / "big.json", big)], db_path)
    with pytest.raises(AdvisoryFormatError, match=r"all\.zip:PYSEC-1\.json: larger than 200 bytes"):
        advisory_db.import_paths([osv_zip(tmp_path / "all.zip", [big])], db_path)


def test_truncated_zip_and_missing_paths(tmp_path: Path, db_path: Path) -> None:
    archive = osv_zip(tmp_path / "all.zip", [record(f"PYSEC-{i}", details="y" * 2000) for i in range(20)])
    data = archive.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[:100] + data[-200:])  # keeps the end record, loses the members
    with pytest.raises(AdvisoryFormatError, match=r"cut\.zip"):
        advisory_db.import_paths([cut], db_path)
    with pytest.raises(UsageError, match="no such file or directory"):
        advisory_db.import_paths([tmp_path / "absent.json"], db_path)


def test_open_existing_returns_none_without_a_database_and_rejects_garbage(db_path: Path) -> None:
    assert advisory_db.open_existing(db_path) is None
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="unreadable"):
        advisory_db.open_existing(db_path)


def test_a_damaged_stored_record_is_a_store_error(tmp_path: Path, db_path: Path) -> None:
    advisory_db.import_paths([write(tmp_path / "r.json", record("PYSEC-1"))], db_path)
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE records SET json = '{\"id\": 7}'")
    with advisory_db.open_db(db_path) as db, pytest.raises(StoreError, match=r"record PYSEC-1: .*re-import"):
        db.lookup("demo-pkg")


# --- update --------------------------------------------------------------------------------------


def test_update_downloads_and_imports_a_zip(tmp_path: Path, db_path: Path) -> None:
    archive = osv_zip(tmp_path / "all.zip", [record("PYSEC-9", name="remote")])
    stats = advisory_db.update(db_path, archive.resolve().as_uri(), timeout=5)
    assert stats.added == 1
    assert stored(db_path) == {"PYSEC-9": "2025-01-01T00:00:00Z"}


def test_update_over_http_and_a_refused_oversized_answer(tmp_path: Path, db_path: Path) -> None:
    """The path `advisories update` takes against osv.dev: HTTP, streamed to a temp file, imported."""
    archive = osv_zip(tmp_path / "all.zip", [record("PYSEC-7", name="remote")])
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert advisory_db.update(db_path, f"{base}/{archive.name}", timeout=5).added == 1
        assert stored(db_path) == {"PYSEC-7": "2025-01-01T00:00:00Z"}
        with pytest.raises(advisory_db.FetchError, match="404"):
            advisory_db.update(db_path, f"{base}/missing.zip", timeout=5)
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_update_from_an_unreachable_source_is_one_clear_error(db_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/PyPI/all.zip"
    with pytest.raises(advisory_db.FetchError) as caught:
        advisory_db.update(db_path, url, timeout=5)
    assert exit_code(caught.value) == 2
    assert str(caught.value).startswith(f"cannot download advisories from {url}: ")
    assert "\n" not in str(caught.value)
    assert not db_path.exists()


def test_update_refuses_other_schemes(db_path: Path) -> None:
    with pytest.raises(UsageError, match="unsupported advisory source"):
        advisory_db.update(db_path, "ftp://example.invalid/all.zip")


# --- bundled records -----------------------------------------------------------------------------


def test_bundled_records_cover_the_landmark_cases() -> None:
    by_package = {a.key: r for r in bundled_records() for a in r.packages()}
    expected = {"litellm", "ultralytics", "telnyx", "num2words", "torchtriton", "ctx", "jeilyfish"}
    assert expected | {"aiocpa", "fshec2"} <= set(by_package)
    assert all(r.malicious for r in bundled_records())
    # Only one official id is claimed; the rest use the project's own scheme.
    assert all(r.id == "MAL-2026-2144" or r.id.startswith("CHAINPROOF-MAL-") for r in bundled_records())


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("litellm", "1.82.7", True),
        ("LiteLLM", "1.82.8", True),
        ("litellm", "1.82.6", False),
        ("litellm", "1.82.9", False),
        ("ultralytics", "8.3.41", True),
        ("ultralytics", "8.3.43", False),
        ("ultralytics", "8.3.46", True),
        ("telnyx", "4.87.2", True),
        ("num2words", "0.5.14", False),
        ("num2words", "0.5.16", True),
        ("torchtriton", "3.0.0", True),
        ("ctx", "0.2.2", True),
        ("ctx", "0.2.6", True),
        ("ctx", "0.2.3", False),
        ("jeIlyfish", "0.7.1", True),
        ("jellyfish", "0.7.1", False),
        ("aiocpa", "0.1.13", True),
        ("aiocpa", "0.1.12", False),
        ("fshec2", "0.1", True),
    ],
)
def test_bundled_matches(name: str, version: str, expected: bool) -> None:
    found = list(match_distributions([dist(name, version)], bundled_lookup))
    assert bool(found) is expected
    assert all(f.rule == "advisory-malicious" and f.severity is Severity.CRITICAL for f in found)


def test_litellm_1_82_8_carries_its_advisory_and_iocs() -> None:
    (finding,) = match_distributions([dist("litellm", "1.82.8")], bundled_lookup)
    assert finding.advisory is not None
    assert finding.advisory.id == "MAL-2026-2144"
    assert finding.advisory.aliases == ("PYSEC-2026-2",)
    assert finding.advisory.iocs["hosts"] == ("models.litellm.cloud",)
    assert finding.advisory.iocs["files"] == ("litellm_init.pth",)
    assert finding.path == "litellm-1.82.8.dist-info"
    assert "MAL-2026-2144" in finding.message
    assert "models.litellm.cloud" in finding.evidence


# --- merging the database with the bundled set ---------------------------------------------------


def test_database_and_bundled_copies_of_one_advisory_give_one_finding(tmp_path: Path, db_path: Path) -> None:
    # The database knows the advisory under its alias, without IOCs, and adds a second one.
    official = record("PYSEC-2026-2", name="litellm", versions=["1.82.8"], aliases=["MAL-2026-2144"])
    other = record("GHSA-lite-0001", name="litellm", versions=["1.82.8"], summary="SSRF in proxy")
    advisory_db.import_paths(
        [write(tmp_path / "a.json", official), write(tmp_path / "b.json", other)], db_path
    )
    with advisory_db.open_db(db_path) as db:
        found = list(match_distributions([dist("litellm", "1.82.8")], combined_lookup(db)))
    by_id = {f.advisory.id: f for f in found if f.advisory}
    assert set(by_id) == {"PYSEC-2026-2", "GHSA-lite-0001"}
    merged = by_id["PYSEC-2026-2"]
    assert merged.rule == "advisory-malicious"
    assert merged.advisory is not None
    assert "MAL-2026-2144" in merged.advisory.aliases
    assert merged.advisory.iocs["hosts"] == ("models.litellm.cloud",)
    assert by_id["GHSA-lite-0001"].rule == "advisory-vulnerable"
    assert by_id["GHSA-lite-0001"].severity is Severity.MEDIUM


def test_aliasing_database_records_are_one_advisory(tmp_path: Path, db_path: Path) -> None:
    pysec = record("PYSEC-2025-1", name="calm", versions=["1.0"], aliases=["GHSA-calm-0001"])
    ghsa = record("GHSA-calm-0001", name="calm", versions=["1.0", "1.1"], aliases=["PYSEC-2025-1"])
    advisory_db.import_paths([write(tmp_path / "p.json", pysec), write(tmp_path / "g.json", ghsa)], db_path)
    with advisory_db.open_db(db_path) as db:
        lookup = combined_lookup(db)
        (both,) = match_distributions([dist("calm", "1.0")], lookup)
        # Only the GHSA copy covers 1.1: the PYSEC copy's narrower data must not hide it.
        (only,) = match_distributions([dist("calm", "1.1")], lookup)
    assert both.advisory is not None
    assert only.advisory is not None
    assert (both.advisory.id, both.advisory.aliases) == ("GHSA-calm-0001", ("PYSEC-2025-1",))
    assert only.advisory.id == "GHSA-calm-0001"


def test_merge_keeps_unrelated_records_and_prefers_the_primary() -> None:
    a = parse_record(record("A-1", aliases=["X-1"], summary="primary"), "t")
    b = parse_record(record("X-1", summary="extra"), "t")
    c = parse_record(record("C-1"), "t")
    merged = merge([a], [b, c])
    assert [r.id for r in merged] == ["A-1", "C-1"]
    assert merged[0].summary == "primary"


def test_withdrawn_database_record_does_not_match(tmp_path: Path, db_path: Path) -> None:
    gone = record("PYSEC-7", name="calm", withdrawn="2025-02-01T00:00:00Z")
    advisory_db.import_paths([write(tmp_path / "w.json", gone)], db_path)
    with advisory_db.open_db(db_path) as db:
        assert list(match_distributions([dist("calm", "1.0")], combined_lookup(db))) == []


# --- the rule and requirements -------------------------------------------------------------------


def context(tmp_path: Path, dists: list[Distribution]) -> ScanContext:
    root = tmp_path / "site"
    root.mkdir(exist_ok=True)
    return ScanContext(DirectoryTree(root, TargetKind.ENVIRONMENT), tuple(dists), {})


def test_rule_uses_bundled_records_without_a_database(tmp_path: Path) -> None:
    rule = AdvisoryRule(tmp_path / "absent.db")
    found = list(rule(context(tmp_path, [dist("litellm", "1.82.8"), dist("six", "1.17.0")])))
    assert [(f.package, f.rule) for f in found] == [("litellm", "advisory-malicious")]
    assert not (tmp_path / "absent.db").exists()


def test_rule_reads_the_database_at_chainproof_home(tmp_path: Path) -> None:
    vuln = record(
        "GHSA-crit-0001",
        name="six",
        versions=["1.17.0"],
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    )
    advisory_db.import_paths([write(tmp_path / "v.json", vuln)])  # the default location
    (found,) = AdvisoryRule()(context(tmp_path, [dist("six", "1.17.0")]))
    assert (found.rule, found.severity, found.version) == ("advisory-vulnerable", Severity.CRITICAL, "1.17.0")


def test_match_requirements_pinned_and_unpinned() -> None:
    reqs = [
        Requirement("litellm", "1.82.7", source="requirements.txt:3"),
        Requirement("litellm", "1.83.0", source="requirements.txt:4"),
        Requirement("torchtriton", None, source="uv.lock:88"),
        Requirement("ctx", None, source="uv.lock:90"),
    ]
    found = match_requirements(reqs)
    assert [(f.package, f.version, f.path, f.line) for f in found] == [
        ("litellm", "1.82.7", "requirements.txt", 3),
        ("torchtriton", None, "uv.lock", 88),
    ]


def test_the_project_environment_matches_no_bundled_record(tmp_path: Path) -> None:
    dists = [dist(d.metadata["Name"], d.version) for d in distributions() if d.metadata["Name"]]
    assert len(dists) > 10
    assert list(AdvisoryRule()(context(tmp_path, dists))) == []


def test_matching_is_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("matching must not touch the network")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    (found,) = AdvisoryRule()(context(tmp_path, [dist("ctx", "0.2.6")]))
    assert found.rule == "advisory-malicious"
