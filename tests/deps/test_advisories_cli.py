"""`chainproof advisories import|update|list`: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest

from chainproof.cli.app import main


@pytest.fixture(autouse=True)
def _private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_HOME", str(tmp_path / "home"))


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, *args, "--json")
    lines = out.splitlines()
    assert len(lines) == 1, out
    obj = json.loads(lines[0])
    assert isinstance(obj, dict)
    return code, obj


def record(rid: str, name: str, versions: list[str], **extra: Any) -> dict[str, Any]:
    affected = {"package": {"ecosystem": "PyPI", "name": name}, "versions": versions}
    return {"id": rid, "modified": "2025-01-01T00:00:00Z", "affected": [affected], **extra}


def test_list_shows_the_bundled_records_with_an_empty_database(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "advisories", "list")
    assert (code, err) == (0, "")
    assert "MAL-2026-2144  litellm  1.82.7, 1.82.8  MALICIOUS  [bundled]" in out
    assert "torchtriton  all versions  MALICIOUS" in out


def test_list_filters_by_package_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, obj = run_json(capsys, "advisories", "list", "--package", "LiteLLM")
    assert code == 0
    assert obj["count"] == 1
    (row,) = obj["advisories"]
    assert (row["id"], row["aliases"], row["malicious"], row["source"]) == (
        "MAL-2026-2144",
        ["PYSEC-2026-2"],
        True,
        "bundled",
    )
    code, obj = run_json(capsys, "advisories", "list", "--package", "no-such-project")
    assert (code, obj["count"]) == (0, 0)


def test_import_then_list_includes_local_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "adv.db"
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "a.json").write_text(json.dumps(record("GHSA-aaaa", "six", ["1.16.0"], summary="a bug")))
    (feed / "b.json").write_text(json.dumps(record("MAL-2099-1", "evil-pkg", ["0.1"])))
    code, obj = run_json(capsys, "advisories", "import", feed, "--db", db)
    assert code == 0
    assert (obj["added"], obj["updated"], obj["unchanged"], obj["db"]) == (2, 0, 0, str(db))

    code, out, _ = run(capsys, "advisories", "import", feed, "--db", db)
    assert code == 0
    assert out.startswith("2 records read: 0 added, 0 updated, 2 unchanged")

    code, obj = run_json(capsys, "advisories", "list", "--db", db)
    rows = {r["id"]: r for r in obj["advisories"]}
    assert rows["GHSA-aaaa"]["malicious"] is False
    assert rows["GHSA-aaaa"]["source"] == "local"
    assert rows["MAL-2099-1"]["malicious"] is True
    assert "MAL-2026-2144" in rows
    assert not (tmp_path / "home").exists()  # --db was used, not the default


def test_import_uses_chainproof_home_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record("PYSEC-1", "six", ["1.0"])))
    code, obj = run_json(capsys, "advisories", "import", path)
    assert code == 0
    assert obj["db"] == str(tmp_path / "home" / "advisories.db")
    assert (tmp_path / "home" / "advisories.db").is_file()


def test_import_of_a_malformed_record_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "X", "affected": [{"package": {}}]}')
    code, out, err = run(capsys, "advisories", "import", bad, "--db", tmp_path / "a.db")
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"chainproof: error: {bad}: X affected[0]: package needs a string `name` and `ecosystem`"
    ]
    code, obj = run_json(capsys, "advisories", "import", bad, "--db", tmp_path / "a.db")
    assert code == 1
    assert obj["exit_code"] == 1
    assert "bad.json" in obj["error"]


def test_import_of_a_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "advisories", "import", tmp_path / "nope.json", "--db", tmp_path / "a.db")
    assert code == 2
    assert err.startswith("chainproof: error: ")
    assert "no such file or directory" in err
    assert len(err.splitlines()) == 1


def test_update_from_a_file_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("PYSEC-5.json", json.dumps(record("PYSEC-5", "attrs", ["20.1.0"])))
    code, obj = run_json(capsys, "advisories", "update", "--db", tmp_path / "a.db", "--url", archive.as_uri())
    assert code == 0
    assert (obj["added"], obj["source"]) == (1, archive.as_uri())


def test_update_when_the_source_is_unreachable_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/PyPI/all.zip"
    code, out, err = run(
        capsys, "advisories", "update", "--db", tmp_path / "a.db", "--url", url, "--timeout", 3
    )
    assert (code, out) == (2, "")
    (line,) = err.splitlines()
    assert line.startswith(f"chainproof: error: cannot download advisories from {url}: ")


def test_list_with_a_corrupt_database_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "a.db"
    db.write_bytes(b"garbage" * 500)
    code, _, err = run(capsys, "advisories", "list", "--db", db)
    assert code == 2
    assert "unreadable" in err
    assert len(err.splitlines()) == 1
