"""The checkpoint signing key must be the one the log's verifier key names, before anything is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from store_support import Built, audit_store, envelopes, snapshot

from chainproof.attest import keys
from chainproof.errors import StoreError
from chainproof.log.custody import SIGNER_FILE, CustodyLog


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
    log = CustodyLog.open(built.log.directory)
    try:
        with pytest.raises(StoreError, match="not this log's checkpoint key"):
            log.append(envelopes(built.actor, 100, 1))
        assert audit_store(log.directory, built.vkey).ok
    finally:
        log.close()
