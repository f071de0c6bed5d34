"""The log admits custody entries by their type's rule: the schema, and the admin for actors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainproof.attest import keys
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
from chainproof.custody import predicates as pr
from chainproof.custody.hops import Hop
from chainproof.custody.records import ActorRecord
from chainproof.errors import VerificationError
from chainproof.log.entries import LOG_RULES
from chainproof.log.note import parse_vkey
from chainproof.log.service import ADMIN_FILE, TransparencyLog, audit_export

SUBJECT = (Subject("sha256:" + "ab" * 32, {"sha256": "ab" * 32}),)


@pytest.fixture
def log(tmp_path: Path) -> TransparencyLog:
    return TransparencyLog.create(tmp_path / "store", "admission.test/custody")


def test_a_custody_statement_that_breaks_its_schema_never_enters(log: TransparencyLog) -> None:
    key = keys.generate()
    log.register_key("vendor", key)
    size = log.size()
    bad = Statement(SUBJECT, pr.hop_type(Hop.INGEST), {"lisence": "MIT"})
    with pytest.raises(VerificationError, match="unknown field"):
        log.append([sign_statement(bad, key)])
    assert log.size() == size
    foreign = Statement(
        SUBJECT, pr.SLSA_PROVENANCE, {"buildDefinition": {"buildType": "https://ci.example/v1"}}
    )
    log.append([sign_statement(foreign, key)])  # someone else's provenance: evidence, admitted as is
    assert log.size() == size + 1


def test_only_the_admin_binds_a_registered_unrevoked_key_of_that_name_to_an_actor(
    log: TransparencyLog,
) -> None:
    admin = keys.read_private(log.directory / ADMIN_FILE)
    key, other = keys.generate(), keys.generate()
    log.register_key("ann", key)
    log.register_key("bob", other)
    kid = keys.keyid(key.public_key())

    def actor(name: str, keyid: str, role: str = "contractor") -> Statement:
        return pr.to_statement(ActorRecord(name=name, role=role, organisation="o", keyid=keyid))

    with pytest.raises(VerificationError, match="only the admin key"):
        log.append([sign_statement(actor("ann", kid), key)])
    with pytest.raises(VerificationError, match="registered as 'ann', not 'bob'"):
        log.append([sign_statement(actor("bob", kid), admin)])
    with pytest.raises(VerificationError, match="not registered"):
        log.append([sign_statement(actor("eve", "cd" * 32), admin)])
    log.append([sign_statement(actor("ann", kid), admin)])
    log.revoke_key(log.find_key(kid), effective_from=None, reason="stolen")
    with pytest.raises(VerificationError, match="revoked"):
        log.append([sign_statement(actor("ann", kid, role="recorder"), admin)])


def test_an_audit_admits_every_entry_again_under_the_custody_rules(
    log: TransparencyLog, tmp_path: Path
) -> None:
    key = keys.generate()
    log.register_key("vendor", key)
    lax = TransparencyLog.open(log.directory)
    lax._rules = LOG_RULES  # as an older version, which knew no custody types, admitted it
    lax.append([sign_statement(Statement(SUBJECT, pr.hop_type(Hop.INGEST), {"licence": 7}), key)])
    lax.close()
    log.export(tmp_path / "log.export")
    report = audit_export(tmp_path / "log.export", parse_vkey(log.vkey))
    assert [(p.index, "not admissible" in p.message) for p in report.problems] == [(log.size() - 1, True)]
    assert audit_export(tmp_path / "log.export", parse_vkey(log.vkey), rules=LOG_RULES).ok
