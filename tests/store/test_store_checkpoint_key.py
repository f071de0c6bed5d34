"""The checkpoint signing key must be the one the log's verifier key names, before anything is written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from store_support import (
    Built,
    audit_store,
    checkpoint_of,
    envelope,
    envelopes,
    rewrite_entries,
    snapshot,
    sql,
)

from chainproof.attest import dsse, keys
from chainproof.errors import StoreError
from chainproof.log import tiles
from chainproof.log.note import Checkpoint, NoteSigner
from chainproof.log.rehash_workers import Jobs
from chainproof.log.repair import Repair
from chainproof.log.service import SIGNER_FILE, TransparencyLog, root_at


def swap_signer(directory: Path) -> Path:
    """Put another Ed25519 key where the checkpoint key was; return where the real one went."""
    kept = directory.parent / "real-signer.pem"
    shutil.move(directory / SIGNER_FILE, kept)
    keys.write_private(directory / SIGNER_FILE, keys.generate())
    return kept


def restore_signer(directory: Path, kept: Path) -> None:
    (directory / SIGNER_FILE).unlink()
    shutil.move(kept, directory / SIGNER_FILE)


def test_an_append_with_another_checkpoint_key_is_refused_and_writes_nothing(built: Built) -> None:
    log = built.log
    before = snapshot(log)
    kept = swap_signer(log.directory)
    with pytest.raises(StoreError) as caught:
        log.append(envelopes(built.actor, 100, 2))
    message = str(caught.value)
    assert str(log.directory / SIGNER_FILE) in message
    assert log.vkey in message
    assert "nothing was written" in message
    assert snapshot(log) == before
    restore_signer(log.directory, kept)
    assert audit_store(log.directory, built.vkey).ok
    log.append(envelopes(built.actor, 100, 2))
    report = audit_store(log.directory, built.vkey)
    assert report.ok, report.problems


def test_key_registration_and_revocation_check_the_checkpoint_key_too(built: Built) -> None:
    log = built.log
    before = snapshot(log)
    swap_signer(log.directory)
    with pytest.raises(StoreError, match="not this log's checkpoint key"):
        log.register_key("bob", keys.generate())
    with pytest.raises(StoreError, match="not this log's checkpoint key"):
        log.revoke_key(log.find_key("alice"), effective_from=None, reason="")
    assert snapshot(log) == before


def test_a_reopened_log_checks_the_key_it_finds(built: Built) -> None:
    built.log.close()
    swap_signer(built.log.directory)
    log = TransparencyLog.open(built.log.directory)
    try:
        with pytest.raises(StoreError, match="not this log's checkpoint key"):
            log.append(envelopes(built.actor, 100, 1))
        assert audit_store(log.directory, built.vkey).ok
    finally:
        log.close()


# -- repairing checkpoints a swapped key signed ---------------------------------------------------


def append_signed_by(log: TransparencyLog, envs: list[dsse.Envelope], key: Ed25519PrivateKey) -> None:
    """Append as the log did before it checked its key: checkpoints signed by `key`."""
    signer = NoteSigner(log.origin, key)
    with log.store.writer() as w:
        log._append(w, envs, signer)


def swap_in_the_middle(built: Built) -> Built:
    """Two appends signed by a stranger's key, then one by the log's own."""
    stranger = keys.generate()
    append_signed_by(built.log, envelopes(built.actor, 1000, 2), stranger)
    append_signed_by(built.log, envelopes(built.actor, 1002, 1), stranger)
    built.log.append(envelopes(built.actor, 1003, 3))
    return built


@pytest.fixture
def swapped(built: Built) -> Built:
    return swap_in_the_middle(built)


def test_the_checkpoints_a_swapped_key_signed_are_signed_again_and_the_log_audits(swapped: Built) -> None:
    log = swapped.log
    report = audit_store(log.directory, swapped.vkey)
    assert not report.ok
    with log.reading() as r:
        before = dict(r.checkpoints())
    size = log.size()

    result = log.repair_checkpoints()
    assert result == Repair(resigned=(size - 4, size - 3), checkpoints=len(before))
    with log.reading() as r:
        after = dict(r.checkpoints())
    assert {s for s in before if before[s] != after[s]} == {size - 4, size - 3}
    for s in (size - 4, size - 3):
        cp = checkpoint_of(after[s], swapped.vkey)
        assert cp.size == s
        with log.reading() as r:
            assert cp.root == root_at(r, s)
    report = audit_store(log.directory, swapped.vkey)
    assert report.ok, report.problems
    assert log.repair_checkpoints() == Repair(resigned=(), checkpoints=len(before))


def test_a_repair_audits_in_worker_processes_too(make_log: Callable[..., Built], runs: list[int]) -> None:
    swapped = swap_in_the_middle(make_log([600]))
    result = swapped.log.repair_checkpoints(jobs=Jobs(workers=2, span=tiles.WIDTH, min_size=0))
    assert len(result.resigned) == 2
    assert runs == [2]
    assert audit_store(swapped.log.directory, swapped.vkey).ok


def test_a_checkpoint_that_claims_another_root_is_not_signed(swapped: Built) -> None:
    log = swapped.log
    size = log.size() - 4
    forged = NoteSigner(log.origin, keys.generate()).sign(Checkpoint(log.origin, size, b"\1" * 32).body())
    sql(log.directory, [("UPDATE checkpoints SET note = ? WHERE size = ?", (forged, size))])
    before = snapshot(log)
    with pytest.raises(StoreError, match=r"still fails its audit: .*does not match the entries") as caught:
        log.repair_checkpoints()
    assert "nothing was written" in str(caught.value)
    assert snapshot(log) == before


def test_a_checkpoint_of_another_size_or_none_at_all_is_not_signed(swapped: Built) -> None:
    log = swapped.log
    size = log.size() - 4
    for note in (
        "not a note",
        NoteSigner(log.origin, keys.generate()).sign(Checkpoint(log.origin, 1, b"\0" * 32).body()),
    ):
        sql(log.directory, [("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size))])
        before = snapshot(log)
        with pytest.raises(StoreError, match=f"stored for tree size {size} is not a checkpoint of"):
            log.repair_checkpoints()
        assert snapshot(log) == before


def test_a_log_with_other_problems_is_not_repaired(swapped: Built) -> None:
    log = swapped.log
    log.close()
    forged = envelope(swapped.actor, 999).canonical()
    sql(log.directory, rewrite_entries(log.directory, {3: forged}))
    log = swapped.log = TransparencyLog.open(log.directory)
    before = snapshot(log)
    with pytest.raises(StoreError, match="entry 3: its bytes do not hash"):
        log.repair_checkpoints()
    assert snapshot(log) == before


def test_a_repair_needs_the_logs_own_key(swapped: Built) -> None:
    swap_signer(swapped.log.directory)
    with pytest.raises(StoreError, match="not this log's checkpoint key"):
        swapped.log.repair_checkpoints()


def test_a_checkpoint_key_given_to_the_log_signs_without_its_file(built: Built) -> None:
    directory = built.log.directory
    key = keys.read_private(directory / SIGNER_FILE)
    (directory / SIGNER_FILE).unlink()  # the key lives elsewhere: a secret mounted for the process
    built.log.close()
    log = TransparencyLog.open(directory, checkpoint_key=key)
    try:
        result = log.append([envelope(built.actor, 1000)])
        assert result.tree_size == log.size()
        assert audit_store(directory, built.vkey).ok
        other = TransparencyLog.open(directory, checkpoint_key=keys.generate())
        try:
            before = other.size()
            with pytest.raises(StoreError, match="the checkpoint key given is not this log's"):
                other.append([envelope(built.actor, 1001)])
            assert other.size() == before
        finally:
            other.close()
    finally:
        log.close()
