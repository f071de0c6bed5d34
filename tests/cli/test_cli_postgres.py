"""The command line on a PostgreSQL log (`--store postgresql://…#name`), and `store copy` between
SQLite and PostgreSQL, checked by an audit of the copy. A real PostgreSQL: see tests/pg_support.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bundle_support import change_entry

CHAINPROOF = [sys.executable, "-m", "chainproof"]


def run(home: Path, *args: str, code: int = 0) -> dict[str, object]:
    p = subprocess.run(
        [*CHAINPROOF, *args, "--json"],
        capture_output=True,
        timeout=120,
        env={**os.environ, "CHAINPROOF_HOME": str(home)},
        check=False,
    )
    assert p.returncode == code, p.stderr.decode()
    out: dict[str, object] = json.loads(p.stdout.splitlines()[-1]) if p.stdout.strip() else {}
    return out


@pytest.fixture
def pg_log(postgres_url: str, tmp_path: Path) -> str:
    """A PostgreSQL log with alice, a recorder, and one statement she appended."""
    url = postgres_url + "#lab"
    home = tmp_path / "home"
    run(home, "--store", url, "init", "--origin", "pg.test/log")
    run(home, "--store", url, "key", "new", "alice", "--out", str(tmp_path / "alice.pem"))
    run(
        home,
        "--store",
        url,
        "actor",
        "add",
        "alice",
        "--role",
        "recorder",
        "--org",
        "lab",
        "--key",
        str(tmp_path / "alice.pem"),
    )
    return url


def test_the_cli_works_on_a_postgresql_log(pg_log: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    info = run(home, "--store", pg_log, "log", "info")
    assert info["tree_size"] == 3
    assert info["origin"] == "pg.test/log"
    proof = run(home, "--store", pg_log, "log", "prove", "2")
    assert proof["tree_size"] == 3
    assert [a["name"] for a in run(home, "--store", pg_log, "actor", "list")["actors"]] == ["alice"]  # type: ignore[index]
    vkey = str(info["vkey"])
    assert run(home, "--store", pg_log, "audit", "--vkey", vkey)["ok"] is True
    # The same database, another log: independent.
    other = pg_log.replace("#lab", "#vendor")
    run(home, "--store", other, "init", "--origin", "pg.test/other")
    assert run(home, "--store", other, "log", "info")["tree_size"] == 1
    assert run(home, "--store", pg_log, "log", "info")["tree_size"] == 3


def test_store_copy_between_sqlite_and_postgresql_audits_clean(
    pg_log: str, postgres_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    on_disk = tmp_path / "copied"
    first = run(home, "store", "copy", pg_log, str(on_disk))
    assert first["tree_size"] == 3
    assert first["audit"]["ok"] is True  # type: ignore[index]
    assert (on_disk / "log-signer.pem").exists()
    back = postgres_url + "#back"
    second = run(home, "store", "copy", str(on_disk), back)
    assert second["audit"]["ok"] is True  # type: ignore[index]
    notes = [run(home, "--store", s, "log", "checkpoint")["note"] for s in (pg_log, str(on_disk), back)]
    assert notes[0] == notes[1] == notes[2]
    # The copy is a working log: its own keys came along.
    run(home, "--store", back, "key", "new", "bob", "--out", str(tmp_path / "bob.pem"))
    assert run(home, "--store", back, "log", "info")["tree_size"] == 4
    # Never into a store that holds a log.
    run(home, "store", "copy", str(on_disk), back, code=2)
    assert run(home, "--store", back, "log", "info")["tree_size"] == 4


def test_a_tampered_source_gives_a_copy_that_fails_its_audit(
    pg_log: str, postgres_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    on_disk = tmp_path / "copied"
    run(home, "store", "copy", pg_log, str(on_disk))
    change_entry(on_disk / "log.db", 2)  # the store's bytes, tampered
    report = run(home, "store", "copy", str(on_disk), postgres_url + "#tampered", code=1)
    assert "fails its audit" in str(report["error"])
