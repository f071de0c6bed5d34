"""The JSON shapes of the log's results (log/shapes.py, AuditReport.to_json, Repair.to_json),
checked against the values of a real log rather than against themselves."""

from __future__ import annotations

import base64
import json

import pytest
from store_support import ORIGIN, Built, envelope

from chainproof.attest import dsse, keys
from chainproof.log import merkle, shapes
from chainproof.log.audit import MAX_PROBLEMS, AuditReport
from chainproof.log.note import parse_vkey, verify_checkpoint
from chainproof.log.repair import Repair
from chainproof.log.service import root_at


def test_an_append_with_a_duplicate(built: Built) -> None:
    fresh, again = envelope(built.actor, 100), envelope(built.actor, 0)
    size = built.log.size()
    obj = shapes.append_json(built.log.append([fresh, again]))
    assert obj == {
        "entries": [
            {"index": size, "leaf_hash": merkle.leaf_hash(fresh.canonical()).hex(), "duplicate": False},
            {"index": 2, "leaf_hash": merkle.leaf_hash(again.canonical()).hex(), "duplicate": True},
        ],
        "tree_size": size + 1,
    }
    json.dumps(obj)


def test_an_entry_with_its_statement_decoded(built: Built) -> None:
    env = dsse.parse(built.log.entry(3))
    obj = shapes.entry_json(3, env)
    assert list(obj) == ["index", "envelope", "statement"]
    assert obj["index"] == 3
    assert obj["envelope"] == json.loads(built.log.entry(3))
    assert obj["statement"] == json.loads(env.payload)
    assert obj["statement"]["_type"] == "https://in-toto.io/Statement/v1"


def test_an_entry_whose_payload_is_not_json_is_shown_as_text() -> None:
    env = dsse.Envelope("text/plain", "not JSON: \u00e9".encode() + b"\xff", ())
    assert shapes.entry_json(7, env)["statement"] == "not JSON: \u00e9\ufffd"


def test_the_checkpoint_as_the_log_signed_it(built: Built) -> None:
    note = built.log.checkpoint()
    obj = shapes.checkpoint_json(note)
    size = built.log.size()
    with built.log.reading() as r:
        root = root_at(r, size)
    assert obj == {
        "origin": ORIGIN,
        "tree_size": size,
        "root_hash": root.hex(),
        "root_base64": base64.b64encode(root).decode(),
        "note": note,
    }
    assert verify_checkpoint(note, parse_vkey(built.vkey)).root == root
    assert built.log.prove(0).root_hash.hex() == obj["root_hash"]


def test_key_records_before_and_after_revocation(built: Built) -> None:
    alice = built.log.find_key("alice")
    assert shapes.key_json(alice) == {
        "name": "alice",
        "keyid": keys.keyid(built.actor.public_key()),
        "role": "actor",
        "registered_at": 1,
        "revoked_from": None,
        "revoked_at": None,
    }
    result = built.log.revoke_key(alice, effective_from=4, reason="stolen")
    revoked = shapes.key_json(built.log.find_key(alice.keyid))
    assert (revoked["revoked_from"], revoked["revoked_at"]) == (4, result.entries[0].index)


def test_a_key_just_registered(built: Built) -> None:
    key = keys.generate()
    index = built.log.register_key("bob", key).entries[0].index
    obj = shapes.registered_key_json("bob", key.public_key(), index)
    assert list(obj) == ["name", "keyid", "public_key_pem", "index"]
    assert (obj["name"], obj["index"]) == ("bob", built.log.size() - 1)
    assert obj["keyid"] == built.log.find_key("bob").keyid
    assert keys.public_raw(keys.load_public_pem(obj["public_key_pem"])) == keys.public_raw(key.public_key())


def test_log_info(built: Built) -> None:
    info = shapes.LogInfo.of(built.log)
    assert info.to_json() == {
        "store": str(built.log.directory),
        "origin": ORIGIN,
        "tree_size": built.log.size(),
        "vkey": built.vkey,
        "keys": 2,  # the admin key and alice's
    }


def test_a_clean_audit_report(built: Built) -> None:
    obj = built.log.audit(parse_vkey(built.vkey)).to_json()
    assert obj == {
        "ok": True,
        "tree_size": built.log.size(),
        "checkpoints": 5,  # genesis, registration, three batches
        "keys": 2,
        "problems": [],
        "problem_count": 0,
        "retroactively_revoked": [],
    }


def test_an_audit_report_lists_the_first_problems_and_counts_them_all() -> None:
    report = AuditReport(tree_size=9, retroactively_revoked=[4])
    report.add(3, "first")
    report.add(None, "not an entry's")
    for n in range(MAX_PROBLEMS):
        report.add(n, "more")
    obj = report.to_json()
    assert obj["ok"] is False
    assert obj["problems"][:2] == [
        {"index": 3, "message": "first"},
        {"index": None, "message": "not an entry's"},
    ]
    assert len(obj["problems"]) == MAX_PROBLEMS
    assert obj["problem_count"] == MAX_PROBLEMS + 2
    assert obj["retroactively_revoked"] == [4]
    obj["retroactively_revoked"].append(5)
    assert report.retroactively_revoked == [4]


@pytest.mark.parametrize(("resigned", "count"), [((), 3), ((2, 5), 7)])
def test_a_repair(resigned: tuple[int, ...], count: int) -> None:
    assert Repair(resigned, count).to_json() == {"resigned": list(resigned), "checkpoints": count}
