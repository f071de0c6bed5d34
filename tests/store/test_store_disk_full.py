"""A full disk: every storage error is one StoreError, and the log is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_support import HOP, ORIGIN, audit_store, build_log, digest, envelopes, snapshot

from chainproof.attest import keys
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import ChainproofError, StoreError, UsageError
from chainproof.log.service import TransparencyLog
from disk_support import fill, small_disk


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


def large_statement(n: int) -> Statement:
    """A statement of about 200 KB: more than the few KB the tests leave free."""
    return Statement((Subject(f"big-{n}", {"sha256": digest(str(n))}),), HOP, {"blob": "x" * 200_000})


def test_an_append_that_fills_the_disk_is_a_store_error_and_changes_nothing(disk: Path) -> None:
    built = build_log(disk / "store", [3])
    log = built.log
    try:
        before = snapshot(log)
        filler = fill(disk, leave=32 * 1024)
        envelope = sign_statement(large_statement(1), built.actor)
        with pytest.raises(StoreError, match="the disk is full") as caught:
            log.append([envelope])
        assert "nothing was written" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert snapshot(log) == before
        # What still fits goes in, even where the leaf index then cannot follow.
        small = envelopes(built.actor, 100, 1)
        assert not log.append(small).entries[0].duplicate

        filler.unlink()
        assert audit_store(log.directory, built.vkey).ok
        assert log.append(small).entries[0].duplicate
        assert not log.append([envelope]).entries[0].duplicate
        assert log.append([envelope]).entries[0].duplicate
        report = audit_store(log.directory, built.vkey)
        assert report.ok, report.problems
    finally:
        log.close()


def test_creating_a_store_on_a_full_disk_leaves_nothing_behind(disk: Path) -> None:
    for leave in (0, 4096, 16 * 1024, 48 * 1024):
        filler = fill(disk, leave=leave)
        with pytest.raises(ChainproofError, match=r"the disk is full|No space left") as caught:
            TransparencyLog.create(disk / "store", ORIGIN, admin_key_out=disk / "admin.pem")
        assert isinstance(caught.value, StoreError | UsageError)
        assert not (disk / "store").exists()
        assert not (disk / "admin.pem").exists()
        filler.unlink()
    log = TransparencyLog.create(disk / "store", ORIGIN)
    try:
        assert audit_store(log.directory, log.vkey).ok
    finally:
        log.close()


def test_a_key_file_that_does_not_fit_is_not_left_half_written(disk: Path) -> None:
    fill(disk)
    with pytest.raises(UsageError, match=r"cannot (create|write) .*key\.pem"):
        keys.write_private(disk / "key.pem", keys.generate())
    assert not (disk / "key.pem").exists()
