"""TransparencyLog over the SQLite store: appends, duplicates, atomicity, the key registry, admission."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from store_support import (
    ORIGIN,
    Built,
    admin_key,
    audit_store,
    checkpoint_of,
    envelope,
    envelopes,
    leaf_hashes,
    snapshot,
    statement,
)

from chainproof._internal import crypto_worker, threads
from chainproof.attest import dsse, keys
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import FormatError, StoreError, UsageError, VerificationError
from chainproof.log import entries, merkle
from chainproof.log.entries import RejectedEntry
from chainproof.log.note import NoteSigner
from chainproof.log.service import ADMIN_FILE, DB_FILE, SIGNER_FILE, TransparencyLog
from chainproof.log.sqlite import LEAF_INDEX_FILE
from chainproof.log.store import KeyRecord, KeyRole

# -- creation ------------------------------------------------------------------------------


def test_create_writes_keys_genesis_and_first_checkpoint(tmp_path: Path) -> None:
    log = TransparencyLog.create(tmp_path / "s", ORIGIN)
    try:
        assert sorted(
            p.name for p in (tmp_path / "s").iterdir() if not p.name.startswith(("log.db-", "leaf-index.db-"))
        ) == sorted([ADMIN_FILE, DB_FILE, LEAF_INDEX_FILE, SIGNER_FILE])
        assert (tmp_path / "s" / ADMIN_FILE).stat().st_mode & 0o077 == 0
        assert (tmp_path / "s" / SIGNER_FILE).stat().st_mode & 0o077 == 0
        assert log.size() == 1
        assert log.origin == ORIGIN
        genesis = dsse.parse(log.entry(0))
        assert log.entry(0) == genesis.canonical()
        admin = admin_key(log)
        assert [s.keyid for s in genesis.signatures] == [keys.keyid(admin.public_key())]
        st = json.loads(genesis.payload)
        assert st["predicateType"] == entries.GENESIS
        assert st["predicate"]["origin"] == ORIGIN
        assert st["predicate"]["checkpoint_key"] == log.vkey
        cp = checkpoint_of(log.checkpoint(), log.vkey)
        assert (cp.origin, cp.size, cp.root) == (ORIGIN, 1, merkle.leaf_hash(log.entry(0)))
        [admin_record] = log.keys()
        assert (admin_record.role, admin_record.registered_at) == (KeyRole.ADMIN, 0)
        assert admin_record.keyid == keys.keyid(admin.public_key())
    finally:
        log.close()


def test_the_genesis_itself_appended_again_is_a_duplicate_of_entry_0(built: Built) -> None:
    log = built.log
    genesis = sign_statement(
        entries.genesis_statement(ORIGIN, log.vkey, admin_key(log).public_key()), admin_key(log)
    )
    assert genesis.canonical() == log.entry(0)  # Ed25519 signatures are deterministic
    result = log.append([genesis])
    assert [(e.index, e.duplicate) for e in result.entries] == [(0, True)]


def test_create_refuses_an_existing_store(built: Built) -> None:
    before = snapshot(built.log)
    with pytest.raises(UsageError, match="already holds a chainproof store"):
        TransparencyLog.create(built.log.directory, ORIGIN)
    assert snapshot(built.log) == before


def test_create_can_keep_the_admin_key_elsewhere(tmp_path: Path) -> None:
    log = TransparencyLog.create(tmp_path / "s", ORIGIN, admin_key_out=tmp_path / "admin-offline.pem")
    try:
        assert not (tmp_path / "s" / ADMIN_FILE).exists()
        actor = keys.generate()
        with pytest.raises(UsageError, match="cannot read key file"):
            log.register_key("alice", actor)
        log.register_key("alice", actor, admin_key=tmp_path / "admin-offline.pem")
        assert [k.name for k in log.keys()] == ["admin", "alice"]  # noqa: SIM118 -- not a dict  # noqa: SIM118 -- not a dict
    finally:
        log.close()


# -- appending -----------------------------------------------------------------------------


def test_append_assigns_indexes_and_signs_a_checkpoint(built: Built) -> None:
    log = built.log
    size = log.size()
    batch = envelopes(built.actor, 100, 3)
    result = log.append(batch)
    assert [e.index for e in result.entries] == [size, size + 1, size + 2]
    assert not any(e.duplicate for e in result.entries)
    assert result.tree_size == size + 3 == log.size()
    for env, appended in zip(batch, result.entries, strict=True):
        assert log.entry(appended.index) == env.canonical()
        assert appended.leaf_hash == merkle.leaf_hash(env.canonical())
    assert result.checkpoint == log.checkpoint()
    cp = checkpoint_of(result.checkpoint, built.vkey)
    assert cp.size == size + 3
    assert cp.root == merkle.root_of_leaf_hashes(leaf_hashes(log))


def test_every_append_issues_exactly_one_checkpoint(built: Built) -> None:
    with built.log.reading() as r:
        sizes = [size for size, _ in r.checkpoints()]
    assert sizes == [end for _, end in built.batches]


def test_an_envelope_already_in_the_log_keeps_its_index(built: Built) -> None:
    log = built.log
    first = log.append([envelope(built.actor, 500)])
    before = snapshot(log)
    again = log.append([envelope(built.actor, 500)])
    assert [(e.index, e.leaf_hash, e.duplicate) for e in again.entries] == [
        (first.entries[0].index, first.entries[0].leaf_hash, True)
    ]
    assert again.tree_size == first.tree_size
    assert again.checkpoint == first.checkpoint
    assert snapshot(log) == before  # no entry, no checkpoint


def test_duplicates_in_a_batch_and_mixed_with_new_envelopes(built: Built) -> None:
    log = built.log
    size = log.size()
    old = envelope(built.actor, 0)  # appended by the fixture at index 2
    new = envelope(built.actor, 600)
    result = log.append([new, old, new, envelope(built.actor, 601)])
    assert [(e.index, e.duplicate) for e in result.entries] == [
        (size, False),
        (2, True),
        (size, True),
        (size + 1, False),
    ]
    assert result.tree_size == log.size() == size + 2


def test_the_same_envelope_in_another_json_form_is_a_duplicate(built: Built) -> None:
    """One envelope is one leaf whatever whitespace, key order or base64 alphabet it came in."""
    env = envelope(built.actor, 700)
    first = built.log.append([env])
    obj = env.to_json_obj()
    obj["payload"] = base64.urlsafe_b64encode(env.payload).decode().rstrip("=")
    text = json.dumps(
        {"signatures": obj["signatures"], "payload": obj["payload"], "payloadType": obj["payloadType"]},
        indent=2,
    )
    [(_, reparsed)] = dsse.parse_documents(text.encode(), "x")
    again = built.log.append([reparsed])
    assert again.entries[0].duplicate
    assert again.entries[0].index == first.entries[0].index


# -- what the log refuses, and that a refusal changes nothing -----------------------------------


def _resigned(env: dsse.Envelope, key: Ed25519PrivateKey, **changes: object) -> dsse.Envelope:
    """`env` with fields changed, signed again by `key` (so only the change is wrong)."""
    payload_type = str(changes.get("payload_type", env.payload_type))
    payload = changes.get("payload", env.payload)
    assert isinstance(payload, bytes)
    keyid = str(changes.get("keyid", keys.keyid(key.public_key())))
    return dsse.sign(payload_type, payload, key, keyid)


def _bad_signature(b: Built, _: Ed25519PrivateKey) -> dsse.Envelope:
    env = envelope(b.actor, 900)
    sig = env.signatures[0]
    flipped = bytes([sig.sig[0] ^ 1]) + sig.sig[1:]
    return replace(env, signatures=(replace(sig, sig=flipped),))


def _signed_over_other_payload(b: Built, _: Ed25519PrivateKey) -> dsse.Envelope:
    env = envelope(b.actor, 900)
    return replace(env, payload=statement(901).canonical())


BAD_ENVELOPES: dict[str, tuple[Callable[[Built, Ed25519PrivateKey], dsse.Envelope], type, str]] = {
    "unknown key": (lambda b, s: envelope(s, 900), RejectedEntry, "is not registered in this log"),
    "bad signature": (_bad_signature, RejectedEntry, "does not verify"),
    "signature over another payload": (_signed_over_other_payload, RejectedEntry, "does not verify"),
    "wrong payloadType": (
        lambda b, s: _resigned(envelope(b.actor, 900), b.actor, payload_type="application/json"),
        RejectedEntry,
        "payloadType 'application/json' is not",
    ),
    "payload not JSON": (
        lambda b, s: _resigned(envelope(b.actor, 900), b.actor, payload=b"\x00not json"),
        FormatError,
        "the payload is not JSON",
    ),
    "payload not an in-toto statement": (
        lambda b, s: _resigned(envelope(b.actor, 900), b.actor, payload=b'{"_type": "something/else"}'),
        FormatError,
        "_type must be",
    ),
    "statement without subjects": (
        lambda b, s: _resigned(
            envelope(b.actor, 900),
            b.actor,
            payload=json.dumps(
                {"_type": "https://in-toto.io/Statement/v1", "subject": [], "predicateType": "x"}
            ).encode(),
        ),
        FormatError,
        "at least one subject",
    ),
    "missing keyid": (
        lambda b, s: _resigned(envelope(b.actor, 900), b.actor, keyid=""),
        RejectedEntry,
        "has no keyid",
    ),
    "keyid of another registered key": (
        lambda b, s: _resigned(
            envelope(b.actor, 900), b.actor, keyid=keys.keyid(admin_key(b.log).public_key())
        ),
        RejectedEntry,
        "does not verify",
    ),
    "registration signed by an actor": (
        lambda b, s: sign_statement(entries.registration_statement("mallory", s.public_key()), b.actor),
        RejectedEntry,
        "only the admin key may sign",
    ),
    "genesis after entry 0": (
        lambda b, s: sign_statement(
            entries.genesis_statement("other.example/log", b.vkey, admin_key(b.log).public_key()),
            admin_key(b.log),
        ),
        RejectedEntry,
        "genesis entry may only be entry 0",
    ),
    "genesis by a stranger after entry 0": (
        lambda b, s: sign_statement(entries.genesis_statement(ORIGIN, b.vkey, s.public_key()), s),
        RejectedEntry,
        "genesis entry may only be entry 0",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_ENVELOPES))
def test_a_bad_envelope_is_rejected_and_its_batch_leaves_the_log_unchanged(
    built: Built, stranger: Ed25519PrivateKey, kind: str
) -> None:
    make, error, fragment = BAD_ENVELOPES[kind]
    bad = make(built, stranger)
    log = built.log
    before = snapshot(log)
    newcomer = keys.generate()
    batch = [
        envelope(built.actor, 800),
        # a key registered earlier in the same batch must vanish with it
        sign_statement(entries.registration_statement("newcomer", newcomer.public_key()), admin_key(log)),
        envelope(newcomer, 801),
        bad,
        envelope(built.actor, 802),
    ]
    with pytest.raises(error, match=fragment) as caught:
        log.append(batch, ["a.json", "b.json", "c.json", "bad.json", "e.json"])
    assert str(caught.value).startswith("bad.json: ")
    assert isinstance(caught.value, VerificationError)
    assert snapshot(log) == before
    # alone, it is refused as well; without labels the error counts envelopes from 1
    with pytest.raises(error, match=fragment) as caught:
        log.append([envelope(built.actor, 803), bad])
    assert str(caught.value).startswith("envelope 2: ")
    assert snapshot(log) == before
    # and the rest of the batch goes in once the bad envelope is left out
    result = log.append([e for e in batch if e is not bad])
    assert result.tree_size == before[0] + 4  # type: ignore[operator]
    assert audit_store(log.directory, built.vkey).ok


def test_a_failed_batch_does_not_keep_its_key_registration(built: Built, stranger: Ed25519PrivateKey) -> None:
    log = built.log
    reg = sign_statement(entries.registration_statement("bob", stranger.public_key()), admin_key(log))
    with pytest.raises(RejectedEntry):
        log.append([reg, envelope(keys.generate(), 1)])
    assert [k.name for k in log.keys()] == ["admin", "alice"]  # noqa: SIM118 -- not a dict
    with pytest.raises(RejectedEntry, match="is not registered"):
        log.append([envelope(stranger, 1)])


# -- the key registry ------------------------------------------------------------------------


def test_a_key_registered_in_a_batch_signs_later_entries_of_that_batch(built: Built) -> None:
    log = built.log
    bob = keys.generate()
    size = log.size()
    reg = sign_statement(entries.registration_statement("bob", bob.public_key()), admin_key(log))
    result = log.append([reg, envelope(bob, 1, "bob"), envelope(bob, 2, "bob")])
    assert [e.index for e in result.entries] == [size, size + 1, size + 2]
    record = log.find_key("bob")
    assert (record.keyid, record.role, record.registered_at) == (
        keys.keyid(bob.public_key()),
        KeyRole.ACTOR,
        size,
    )
    assert record.public_key == keys.public_raw(bob.public_key())
    assert audit_store(log.directory, built.vkey).ok


def test_a_key_cannot_sign_before_its_registration_in_the_same_batch(built: Built) -> None:
    log = built.log
    bob = keys.generate()
    before = snapshot(log)
    reg = sign_statement(entries.registration_statement("bob", bob.public_key()), admin_key(log))
    with pytest.raises(RejectedEntry, match="is not registered"):
        log.append([envelope(bob, 1, "bob"), reg])
    assert snapshot(log) == before


def test_a_key_cannot_be_registered_twice(built: Built) -> None:
    with pytest.raises(RejectedEntry, match="already registered"):
        built.log.register_key("alice-again", built.actor)
    assert len(built.log.keys()) == 2


def test_only_the_admin_key_registers_and_revokes(built: Built, stranger: Ed25519PrivateKey) -> None:
    log = built.log
    before = snapshot(log)
    alice = log.find_key("alice")
    revocation = entries.revocation_statement(alice, log.size(), "actor tries to revoke itself")
    registration = entries.registration_statement("mallory", stranger.public_key())
    for st in (registration, revocation):
        with pytest.raises(RejectedEntry, match="only the admin key may sign"):
            log.append([sign_statement(st, built.actor)])
        # an admin signature does not excuse a second, actor signature on the same envelope
        env = sign_statement(st, admin_key(log))
        co_signed = dsse.sign(
            env.payload_type, env.payload, built.actor, keys.keyid(built.actor.public_key())
        )
        both = replace(env, signatures=(*env.signatures, *co_signed.signatures))
        with pytest.raises(RejectedEntry, match="only the admin key may sign"):
            log.append([both])
    assert snapshot(log) == before


def test_register_key_refuses_a_key_that_is_not_the_admin_key(built: Built, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    keys.write_private(other, keys.generate())
    with pytest.raises(UsageError, match="not this log's admin key"):
        built.log.register_key("bob", keys.generate(), admin_key=other)
    assert len(built.log.keys()) == 2


def test_revocation_takes_effect_at_the_next_entry(built: Built) -> None:
    log = built.log
    bob = keys.generate()
    log.register_key("bob", bob)
    signed = log.append([envelope(bob, 1, "bob")]).entries[0].index
    result = log.revoke_key(log.find_key("bob"), effective_from=None, reason="left the project")
    revoked_at = result.entries[0].index
    record = log.find_key("bob")
    assert (record.revoked_from, record.revoked_at) == (revoked_at, revoked_at)
    revocation = json.loads(dsse.parse(log.entry(revoked_at)).payload)
    assert revocation["predicateType"] == entries.KEY_REVOCATION
    assert revocation["predicate"] == {
        "keyid": record.keyid,
        "effective_from": revoked_at,
        "reason": "left the project",
    }
    before = snapshot(log)
    with pytest.raises(
        RejectedEntry, match=rf"key {record.keyid} \(bob\) is revoked for entry {revoked_at + 1}"
    ):
        log.append([envelope(bob, 2, "bob")])
    assert snapshot(log) == before
    # what bob signed before stays in the log, and appending it again is still a no-op
    assert log.append([envelope(bob, 1, "bob")]).entries[0].index == signed
    report = audit_store(log.directory, built.vkey)
    assert report.ok, report.problems
    assert report.retroactively_revoked == []


def test_retroactive_revocation_is_recorded_and_listed_by_the_audit(built: Built) -> None:
    log = built.log
    bob = keys.generate()
    log.register_key("bob", bob)
    indexes = [log.append([envelope(bob, n, "bob")]).entries[0].index for n in range(4)]
    log.append([envelope(built.actor, 1000)])  # alice's entries are not affected
    compromise = indexes[1]
    result = log.revoke_key(log.find_key("bob"), effective_from=compromise, reason="key leaked")
    record = log.find_key("bob")
    assert (record.revoked_from, record.revoked_at) == (compromise, result.entries[0].index)
    assert not record.valid_at(compromise)
    assert record.valid_at(compromise - 1)
    with pytest.raises(RejectedEntry, match="is revoked"):
        log.append([envelope(bob, 99, "bob")])
    report = audit_store(log.directory, built.vkey)
    assert report.ok, report.problems
    assert report.retroactively_revoked == indexes[1:]


@pytest.mark.parametrize(
    ("effective_from", "fragment"),
    [
        (lambda reg, idx: reg, "takes effect after the key's registration"),
        (lambda reg, idx: reg - 1, "takes effect after the key's registration"),
        (lambda reg, idx: idx + 1, "no later than"),
    ],
)
def test_revocation_dates_must_lie_between_registration_and_the_revocation(
    built: Built, effective_from: Callable[[int, int], int], fragment: str
) -> None:
    log = built.log
    alice = log.find_key("alice")
    before = snapshot(log)
    start = effective_from(alice.registered_at, log.size())
    # Asked of the log, an impossible date is a bad request, refused before anything is signed;
    with pytest.raises(UsageError, match=fragment):
        log.revoke_key(alice, effective_from=start, reason="")
    # signed by hand and appended, it is input the admission rules reject.
    with pytest.raises(RejectedEntry, match=fragment):
        log.append([_revocation(log, alice, start)])
    assert snapshot(log) == before


def _revocation(log: TransparencyLog, record: KeyRecord, start: int) -> dsse.Envelope:
    return sign_statement(entries.revocation_statement(record, start, ""), admin_key(log))


def test_revocation_of_the_admin_an_unknown_or_a_revoked_key_is_rejected(
    built: Built, stranger: Ed25519PrivateKey
) -> None:
    log = built.log
    admin = next(k for k in log.keys() if k.role == KeyRole.ADMIN)  # noqa: SIM118 -- not a dict
    with pytest.raises(UsageError, match="admin key cannot be revoked"):
        log.revoke_key(admin, effective_from=None, reason="")
    with pytest.raises(RejectedEntry, match="admin key cannot be revoked"):
        log.append([_revocation(log, admin, log.size())])
    ghost = replace(log.find_key("alice"), keyid=keys.keyid(stranger.public_key()), name="ghost")
    with pytest.raises(RejectedEntry, match="is not registered"):
        log.revoke_key(ghost, effective_from=None, reason="")
    log.revoke_key(log.find_key("alice"), effective_from=None, reason="")
    with pytest.raises(UsageError, match="already revoked"):
        log.revoke_key(log.find_key("alice"), effective_from=None, reason="again")
    with pytest.raises(RejectedEntry, match="already revoked"):
        log.append([_revocation(log, log.find_key("alice"), log.size())])


def test_find_key_by_name_or_keyid(built: Built) -> None:
    log = built.log
    alice = log.find_key("alice")
    assert log.find_key(alice.keyid) == alice
    with pytest.raises(UsageError, match="no key named"):
        log.find_key("nobody")
    # a revoked key and its successor share a name: the active one wins, both by keyid
    log.revoke_key(alice, effective_from=None, reason="rotated")
    successor = keys.generate()
    log.register_key("alice", successor)
    assert log.find_key("alice").keyid == keys.keyid(successor.public_key())
    assert log.find_key(alice.keyid).revoked_at is not None


def test_an_unknown_predicate_with_a_bad_log_predicate_shape_is_rejected(built: Built) -> None:
    """Registration predicates are checked: the declared keyid must be the key's."""
    log = built.log
    bob = keys.generate()
    st = entries.registration_statement("bob", bob.public_key())
    forged = Statement(
        st.subjects, st.predicate_type, {**st.predicate, "keyid": keys.keyid(built.actor.public_key())}
    )
    with pytest.raises(FormatError, match="not the SHA-256 of the declared public key"):
        log.append([sign_statement(forged, admin_key(log))])
    no_name = Statement((Subject("x", {"sha256": "00" * 32}),), entries.KEY_REGISTRATION, {"keyid": "x"})
    with pytest.raises(FormatError):
        log.append([sign_statement(no_name, admin_key(log))])
    assert len(log.keys()) == 2


# -- reading and errors --------------------------------------------------------------------


def test_entry_out_of_range_is_a_usage_error(built: Built) -> None:
    size = built.log.size()
    for index in (-1, size, size + 10**12):
        with pytest.raises(UsageError, match=f"index {index} is outside the log"):
            built.log.entry(index)


def test_open_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no chainproof store at"):
        TransparencyLog.open(tmp_path / "nothing-here")


# -- signatures checked before the write lock ----------------------------------------------


def test_preverify_lists_only_signatures_that_verify_under_registered_keys(
    built: Built, stranger: Ed25519PrivateKey
) -> None:
    log = built.log
    good = envelope(built.actor, 1, "pre")
    forged = replace(good, signatures=(replace(good.signatures[0], sig=bytes(64)),))
    unknown = envelope(stranger, 1, "pre")
    verified = log._preverify([good, forged, unknown]).result()
    assert verified[0] == {(good.signatures[0].sig, keys.public_raw(built.actor.public_key()))}
    assert verified[1:] == [frozenset(), frozenset()]
    with pytest.raises(RejectedEntry):
        log.append([forged])


def test_a_large_batch_is_verified_beside_the_writer_and_one_forgery_still_refuses_it(
    built: Built, stranger: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer admits the batch while its signatures are verified elsewhere (a process of
    their own); a forgery found there undoes it before any tree head is signed."""
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    log = built.log
    batch = [
        envelope(built.actor, n, "bulk") for n in range(max(4 * threads.MIN_ITEMS, crypto_worker.MIN_BATCH))
    ]
    verified = log._preverify([*batch, envelope(stranger, 1, "bulk")]).result()
    actor = keys.public_raw(built.actor.public_key())
    assert verified == [{(e.signatures[0].sig, actor)} for e in batch] + [frozenset()]
    late = len(batch) - 3
    forged = replace(batch[late], signatures=(replace(batch[late].signatures[0], sig=bytes(64)),))
    before = snapshot(log)
    signed: list[bytes] = []
    real_sign = NoteSigner.sign
    monkeypatch.setattr(NoteSigner, "sign", lambda self, body: signed.append(body) or real_sign(self, body))
    with pytest.raises(RejectedEntry, match=f"envelope {late + 1}: .*does not verify"):
        log.append([*batch[:late], forged, *batch[late + 1 :]])
    assert snapshot(log) == before
    assert signed == []  # no checkpoint of a tree holding the forgery was ever signed
    assert log.append(batch).tree_size == log.size() == before[0] + len(batch)
    assert len(signed) == 1


def test_signatures_the_helpers_could_not_verify_are_checked_by_admission_itself(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification beside the writer only saves work: a batch it failed to vouch for is admitted
    again, each signature checked by the writer, and appended when they all verify."""
    log = built.log
    batch = [envelope(built.actor, n, "unvouched") for n in range(5)]
    monkeypatch.setattr(entries.Preverifying, "result", lambda self: [frozenset() for _ in self.submitted])
    size = log.size()
    assert log.append(batch).tree_size == size + len(batch)
    forged = replace(batch[0], signatures=(replace(batch[0].signatures[0], sig=bytes(64)),))
    with pytest.raises(RejectedEntry, match="does not verify"):
        log.append([forged])
    assert log.size() == size + len(batch)


def test_a_stale_preverification_does_not_skip_the_registry_checks(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key revoked between the check outside the lock and the append inside it is still refused."""
    log = built.log
    late = envelope(built.actor, 7, "late")
    stale = log._preverify([late])
    log.revoke_key(log.find_key(keys.keyid(built.actor.public_key())), effective_from=None, reason="leaked")
    before = snapshot(log)
    monkeypatch.setattr(TransparencyLog, "_preverify", lambda self, envs: stale)
    with pytest.raises(RejectedEntry, match="revoked"):
        log.append([late])
    assert snapshot(log) == before
