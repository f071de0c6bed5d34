"""Known vulnerabilities from PyPI's JSON API: fetched when online, cached with their fetch time in
the advisory database, reused while fresh, never asked for offline. A fake API on loopback stands
in for PyPI: the suite never reaches the network."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from deps_support import make_wheel

from chainproof.cli.app import main
from chainproof.deps import scan
from chainproof.deps.advisories import db as advisory_db
from chainproof.deps.advisories import pypi_json
from chainproof.deps.gate.policy import Candidate
from chainproof.deps.gate.run import Artifact, GateResult
from chainproof.deps.model import ScanResult
from chainproof.deps.report import gate_report, table

VULN = {
    "id": "PYSEC-2099-1",
    "aliases": ["CVE-2099-0001"],
    "summary": None,
    "details": "Widget parses headers unsafely.\nMore text.",
    "fixed_in": ["1.1"],
    "link": "https://osv.dev/vulnerability/PYSEC-2099-1",
    "source": "osv",
    "withdrawn": None,
}


@dataclass
class FakePypi:
    """A JSON API on 127.0.0.1 that knows the releases in `answers` and counts what it is asked."""

    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def fake_pypi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePypi]:
    fake = FakePypi(answers={"/widget/1.0/json": [VULN], "/widget/1.1/json": []})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.asked.append(self.path)
            vulns = fake.answers.get(self.path)
            if vulns is None:
                self.send_error(404)
                return
            body = json.dumps({"info": {}, "urls": [], "vulnerabilities": vulns}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.delenv(pypi_json.OFFLINE_ENV, raising=False)
    monkeypatch.setenv(pypi_json.BASE_ENV, fake.url)
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "home"))
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def widget(tmp_path: Path, version: str = "1.0") -> Path:
    return make_wheel(tmp_path, "widget", version, {"widget/__init__.py": "VALUE = 1\n"})


def deps_json(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, dict[str, Any], str]:
    code = main(["deps", "scan", *map(str, args), "--json", "--fail-on", "critical"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_a_scan_reports_what_pypi_knows_about_the_release(
    tmp_path: Path, fake_pypi: FakePypi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, err = deps_json(capsys, widget(tmp_path))
    assert code == 0
    found = [f for f in report["findings"] if f["rule"] == "advisory-vulnerable"]
    assert [(f["package"], f["version"], f["advisory"]["id"]) for f in found] == [
        ("widget", "1.0", "PYSEC-2099-1")
    ]
    assert found[0]["advisory"]["aliases"] == ["CVE-2099-0001"]
    assert found[0]["severity"] == "medium"
    assert "Widget parses headers unsafely." in found[0]["evidence"]
    assert fake_pypi.asked == ["/widget/1.0/json"]
    assert report["summary"]["advisory_sources"] == ["bundled records", "PyPI JSON API"]
    assert report["summary"]["notes"] == []
    assert "advisories: bundled records, PyPI JSON API" in err


def test_an_answer_is_cached_with_its_fetch_time_and_reused_while_fresh(
    tmp_path: Path, fake_pypi: FakePypi
) -> None:
    wheel = widget(tmp_path)
    first = scan.scan_all([wheel])
    second = scan.scan_all([wheel])
    assert fake_pypi.asked == ["/widget/1.0/json"]  # the second scan asked nothing
    assert [f.rule for f in second.findings if f.advisory] == [f.rule for f in first.findings if f.advisory]
    with advisory_db.open_db() as db:
        answer = db.pypi_answer("widget", "1.0")
    assert answer is not None
    assert answer[0] > 0
    assert json.loads(answer[1])[0]["id"] == "PYSEC-2099-1"
    later = answer[0] + pypi_json.FRESH_SECONDS + 1
    refreshed = pypi_json.refresh([("widget", "1.0")], now=later)
    assert (refreshed.fetched, refreshed.cached) == (1, 0)
    assert fake_pypi.asked == ["/widget/1.0/json", "/widget/1.0/json"]


def test_a_release_pypi_does_not_list_is_not_vulnerable(tmp_path: Path, fake_pypi: FakePypi) -> None:
    result = scan.scan_all([widget(tmp_path, "1.1")])
    assert not [f for f in result.findings if f.advisory]
    assert fake_pypi.asked == ["/widget/1.1/json"]
    assert "PyPI JSON API" in result.advisory_sources


def test_a_release_the_api_does_not_list_has_no_answer(tmp_path: Path, fake_pypi: FakePypi) -> None:
    private = make_wheel(tmp_path, "in-house", "3.0", {"in_house/__init__.py": "X = 3\n"})
    result = scan.scan_all([widget(tmp_path), private])
    assert sorted(fake_pypi.asked) == ["/in-house/3.0/json", "/widget/1.0/json"]
    assert [f.package for f in result.findings if f.advisory] == ["widget"]  # the 404 stopped nothing
    assert result.advisory_sources == ["bundled records", "PyPI JSON API, 1 of 2 releases"]
    assert result.notes == [
        "PyPI JSON API not reachable or not listing them: no PyPI answer for 1 of 2 releases, "
        "vulnerability data may be missing"
    ]
    scan.scan_all([private])
    assert fake_pypi.asked.count("/in-house/3.0/json") == 2  # not cached: asked again next time


def test_a_pinned_requirement_is_looked_up_too(tmp_path: Path, fake_pypi: FakePypi) -> None:
    req = tmp_path / "requirements.txt"
    req.write_text("widget==1.0\n")
    result = scan.scan_all([req])
    assert [
        (f.package, f.advisory.id if f.advisory else None, f.line) for f in result.findings if f.advisory
    ] == [("widget", "PYSEC-2099-1", 1)]
    assert fake_pypi.asked == ["/widget/1.0/json"]


def test_offline_asks_nothing_and_says_data_may_be_missing(
    tmp_path: Path, fake_pypi: FakePypi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, err = deps_json(capsys, widget(tmp_path), "--offline")
    assert code == 0
    assert fake_pypi.asked == []
    assert not [f for f in report["findings"] if f["advisory"]]
    assert report["summary"]["advisory_sources"] == ["bundled records"]
    assert report["summary"]["notes"] == [
        "offline: no PyPI answer for 1 of 1 releases, vulnerability data may be missing"
    ]
    assert "vulnerability data may be missing" in err
    assert not (tmp_path / "home" / "advisories.db").exists()  # offline creates no database


def test_an_unreachable_api_costs_one_attempt_and_a_note(
    tmp_path: Path, fake_pypi: FakePypi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(pypi_json.BASE_ENV, "http://127.0.0.1:9/unreachable")
    other = make_wheel(tmp_path, "gadget", "2.0", {"gadget/__init__.py": "X = 2\n"})
    done = pypi_json.refresh([("widget", "1.0"), ("gadget", "2.0")])
    assert (done.fetched, done.missing) == (0, 2)
    assert "127.0.0.1:9" in done.failure
    assert not (tmp_path / "home" / "advisories.db").exists()  # nothing to store, nothing created
    result = scan.scan_all([widget(tmp_path), other])
    assert result.notes == [
        "PyPI JSON API not reachable or not listing them: no PyPI answer for 2 of 2 releases, "
        "vulnerability data may be missing"
    ]
    assert not result.errors


def test_a_schema_1_database_is_read_and_then_migrated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "advisories.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE records (id TEXT PRIMARY KEY, modified TEXT NOT NULL, json TEXT NOT NULL);"
        "CREATE TABLE packages (key TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (key, id));"
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    )
    record = {"id": "OLD-1", "modified": "2020-01-01T00:00:00Z", "affected": []}
    old.execute("INSERT INTO records VALUES ('OLD-1', '2020-01-01T00:00:00Z', ?)", (json.dumps(record),))
    old.commit()
    old.close()
    reader = advisory_db.open_existing(path)
    assert reader is not None
    with reader:
        assert reader.pypi_answer("widget", "1.0") is None  # no table yet: nothing cached
        assert reader.pypi_answers("widget") == []
    with advisory_db.open_db(path) as db:
        assert db.count() == 1
        db.store_pypi_answers([("widget", "1.0", 123.5, "[]")])
        assert db.pypi_answer("widget", "1.0") == (123.5, "[]")
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone() == ("2",)
    conn.close()


def test_records_join_answers_per_id_and_skip_junk() -> None:
    answers = [
        ("1.0", json.dumps([VULN, {"no": "id"}, "junk"])),
        ("1.0.1", json.dumps([VULN])),
    ]
    (record,) = pypi_json.records("widget", answers)
    assert record.id == "PYSEC-2099-1"
    assert record.summary == "Widget parses headers unsafely."
    assert record.packages()[0].versions == ("1.0", "1.0.1")


def test_the_summary_line_names_sources_and_notes() -> None:
    result = ScanResult(target="t", advisory_sources=["bundled records"], notes=["offline: x"])
    assert table.summary_line(result) == "0 packages, 0 findings; advisories: bundled records; offline: x"


def test_the_gate_matches_its_files_against_pypi_and_says_so(tmp_path: Path, fake_pypi: FakePypi) -> None:
    wheel = widget(tmp_path)
    scanned = scan.scan_archive(wheel)  # what the gate runs on each file it downloaded
    candidate = Candidate("widget", "1.0", f"{fake_pypi.url}/files/{wheel.name}", None, requested=True)
    result = GateResult(artifacts=[Artifact(candidate, path=wheel)], findings=scanned.findings)
    report = gate_report.report_obj(result, "widget")
    assert [f["advisory"]["id"] for f in report["findings"] if f["advisory"]] == ["PYSEC-2099-1"]
    assert report["summary"]["advisory_sources"] == ["bundled records", "PyPI JSON API"]
    assert "advisories: bundled records, PyPI JSON API" in gate_report.render_table(result, "widget")
