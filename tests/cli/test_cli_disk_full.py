"""End to end, through the executable: a full disk or a file size limit is one line, exit 2, and the
log is left as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import HOP, ORIGIN, Cli, Store, digest
from system_support import one_line_error, run

from disk_support import fill, small_disk


def large_envelope(cli: Cli, key: Path, directory: Path, name: str = "big.json") -> Path:
    """An envelope of about 270 KB: more than the tests leave free."""
    predicate = directory / f"{name}.predicate"
    predicate.write_text(json.dumps({"blob": "x" * 200_000}))
    out = directory / name
    subject = f"m=sha256:{digest(name)}"
    cli.ok(
        "attest", "--key", key, "--type", HOP, "--subject", subject, "--predicate", predicate, "--out", out
    )
    return out


def audit_ok(store: Store) -> None:
    result = run(["--store", store.path, "audit", "--vkey", store.vkey])
    assert result.returncode == 0, result.stderr


def test_an_append_past_a_file_size_limit_is_one_line_and_changes_nothing(
    cli: Cli, store: Store, alice: Path, tmp_path: Path
) -> None:
    envelope = large_envelope(cli, alice, tmp_path)
    before = store.state()
    result = run(["--store", store.path, "log", "append", envelope], limit_file_size=96 * 1024)
    assert str(store.path) in one_line_error(result)
    assert store.state() == before
    audit_ok(store)
    assert run(["--store", store.path, "log", "append", envelope]).returncode == 0
    audit_ok(store)


def test_key_new_and_init_past_a_file_size_limit_leave_nothing_behind(
    cli: Cli, store: Store, tmp_path: Path
) -> None:
    before = store.state()
    out = tmp_path / "bob.pem"
    one_line_error(run(["--store", store.path, "key", "new", "bob", "--out", out], limit_file_size=64))
    assert not out.exists()
    assert store.state() == before

    other = tmp_path / "other"
    for limit in (64, 4096, 40_000):
        result = run(["--store", other, "init", "--origin", ORIGIN], limit_file_size=limit)
        one_line_error(result)
        assert not other.exists(), limit
    assert run(["--store", other, "init", "--origin", ORIGIN]).returncode == 0


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


def test_a_full_disk_is_one_line_exit_2_and_the_log_is_unchanged(
    cli: Cli, disk: Path, tmp_path: Path
) -> None:
    path = disk / "store"
    vkey = cli.ok("--store", path, "init", "--origin", ORIGIN, "--json").json()["vkey"]
    store = Store(path, vkey, tmp_path)
    key = tmp_path / "alice.pem"
    cli.ok("--store", path, "key", "new", "alice", "--out", key)
    envelope = large_envelope(cli, key, tmp_path)
    before = store.state()
    elsewhere = tmp_path / "elsewhere"  # a store on another disk, to export onto the full one
    cli.ok("--store", elsewhere, "init", "--origin", ORIGIN)

    filler = fill(disk, leave=128 * 1024)  # room to open the store, not for the envelope
    message = one_line_error(run(["--store", path, "log", "append", envelope]))
    assert "the disk is full" in message
    assert "nothing was written" in message
    assert store.state() == before

    filler.unlink()
    filler = fill(disk)
    one_line_error(run(["--store", path, "key", "new", "bob", "--out", disk / "bob.pem"]))
    assert not (disk / "bob.pem").exists()
    assert "disk is full" in one_line_error(
        run(["--store", path, "key", "new", "bob", "--out", tmp_path / "b.pem"])
    )
    assert not (tmp_path / "b.pem").exists()
    assert "disk is full" in one_line_error(run(["--store", path, "log", "export", tmp_path / "export.txt"]))
    message = one_line_error(run(["--store", elsewhere, "log", "export", disk / "export.txt"]))
    assert f"cannot write {disk / 'export.txt'}" in message
    assert not (disk / "export.txt").exists()
    assert not any(p.name.startswith(".export.txt") for p in disk.iterdir())
    one_line_error(run(["--store", disk / "new-store", "init", "--origin", ORIGIN]))
    assert not (disk / "new-store").exists()

    filler.unlink()
    assert store.state() == before
    audit_ok(store)
    assert run(["--store", path, "log", "append", envelope]).returncode == 0
    audit_ok(store)
