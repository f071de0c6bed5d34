"""The custody log's limits: the size of an entry, and one unrevoked key per name."""

from __future__ import annotations

import pytest
from store_support import Built, audit_store, envelope, snapshot

from chainproof.attest import keys
from chainproof.errors import UsageError
from chainproof.log.entries import RejectedEntry
from chainproof.log.service import TransparencyLog


def test_an_entry_past_the_limit_is_refused_and_one_at_it_goes_in(built: Built) -> None:
    small, large = envelope(built.actor, 100), envelope(built.actor, 101, "a longer tag")
    limit = len(small.canonical())
    assert len(large.canonical()) > limit
    log = TransparencyLog.open(built.log.directory, max_entry_bytes=limit)
    try:
        before = snapshot(log)
        too_large = rf"^big one: the envelope is {len(large.canonical()):,} bytes"
        with pytest.raises(RejectedEntry, match=too_large):
            log.append([small, large], ["small one", "big one"])
        assert snapshot(log) == before
        assert not log.append([small]).entries[0].duplicate
    finally:
        log.close()
    assert audit_store(built.log.directory, built.vkey).ok


def test_the_default_limit_comes_from_the_environment(built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_MAX_ENTRY_BYTES", "1000")
    log = TransparencyLog.open(built.log.directory)
    try:
        assert log.max_entry_bytes == 1000
        with pytest.raises(RejectedEntry, match="at most 1,000 bytes"):
            log.append([envelope(built.actor, 100, "x" * 1000)])
    finally:
        log.close()


def test_a_name_is_not_registered_twice_while_its_key_is_unrevoked(built: Built) -> None:
    log = built.log
    before = snapshot(log)
    for name in ("alice", "admin"):
        with pytest.raises(UsageError, match=f"a key named '{name}' is already registered"):
            log.register_key(name, keys.generate())
        assert snapshot(log) == before
    log.revoke_key(log.find_key("alice"), effective_from=None, reason="left")
    log.register_key("alice", keys.generate())  # a revoked name may be given to a new key
    records = log.keys()
    assert [k.name for k in records].count("alice") == 2
    assert log.register_key("Alice", keys.generate()).tree_size == log.size()
    assert audit_store(log.directory, built.vkey).ok
