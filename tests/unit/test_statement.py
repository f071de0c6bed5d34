"""Tests of chainproof.attest.statement: in-toto Statement v1 parsing and validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st
from in_toto_attestation.v1 import statement as intoto
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor

from chainproof.attest import keys, statement
from chainproof.attest.statement import STATEMENT_TYPE, Statement, Subject
from chainproof.errors import FormatError
from chainproof.log import entries
from chainproof.log.store import KeyRecord, KeyRole

SHA256 = "ab" * 32
SHA512 = "cd" * 64


def _obj(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": "model.safetensors", "digest": {"sha256": SHA256}}],
        "predicateType": "https://example.com/training/v1",
        "predicate": {"epochs": 3, "data": ["a", "b"]},
    }
    for k, v in changes.items():
        if v is None:
            del obj[k]
        else:
            obj[k] = v
    return obj


def _parse(obj: object) -> Statement:
    return statement.parse(json.dumps(obj).encode())


def test_parse_valid_statement() -> None:
    st_ = _parse(_obj())
    assert st_.subjects == (Subject("model.safetensors", {"sha256": SHA256}),)
    assert st_.predicate_type == "https://example.com/training/v1"
    assert st_.predicate == {"epochs": 3, "data": ["a", "b"]}


def test_canonical_is_rfc8785_and_round_trips() -> None:
    st_ = _parse(_obj())
    canonical = st_.canonical()
    assert canonical == json.dumps(_obj(), sort_keys=True, separators=(",", ":")).encode()
    assert statement.parse(canonical) == st_


def test_digests_are_normalised_to_lowercase_and_other_algorithms_kept() -> None:
    subject = {"name": "x", "digest": {"sha256": SHA256.upper(), "sha512": SHA512, "gitCommit": "abc123"}}
    st_ = _parse(_obj(subject=[subject]))
    assert st_.subjects[0].digest == {"sha256": SHA256, "sha512": SHA512, "gitCommit": "abc123"}


def test_missing_predicate_is_empty_and_nameless_subject_is_allowed() -> None:
    st_ = _parse(_obj(predicate=None, subject=[{"digest": {"sha384": "ef" * 48}}]))
    assert st_.predicate == {}
    assert st_.subjects[0].name == ""


@given(
    names=st.lists(st.text(max_size=20), min_size=1, max_size=4),
    digest=st.binary(min_size=32, max_size=32),
    predicate=st.dictionaries(
        st.text(max_size=8), st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=8), max_size=4
    ),
)
def test_to_json_round_trip(names: list[str], digest: bytes, predicate: dict[str, Any]) -> None:
    st_ = Statement(tuple(Subject(n, {"sha256": digest.hex()}) for n in names), "t", predicate)
    assert statement.parse(st_.canonical()) == st_


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30, float("nan"), float("inf")])
def test_a_predicate_outside_the_i_json_domain_has_no_canonical_form(value: float) -> None:
    """RFC 8785 covers only I-JSON numbers; the error must be chainproof's, not rfc8785's."""
    st_ = Statement((Subject("x", {"sha256": SHA256}),), "t", {"n": value})
    with pytest.raises(FormatError, match="no RFC 8785 form"):
        st_.canonical()
    # json.loads accepts such numbers (and NaN), so a parsed payload can carry them too.
    parsed = statement.parse(json.dumps(_obj(predicate={"n": value})).encode())
    with pytest.raises(FormatError, match="no RFC 8785 form"):
        parsed.canonical()
    # The largest safe integer is still fine.
    assert b'"predicate":{"n":9007199254740991}' in Statement(st_.subjects, "t", {"n": 2**53 - 1}).canonical()


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([], "must be a JSON object"),
        (_obj(_type="https://in-toto.io/Statement/v0.1"), "_type must be"),
        (_obj(_type=None), "_type must be"),
        (_obj(subject=[]), "at least one subject"),
        (_obj(subject=None), "at least one subject"),
        (_obj(subject={"name": "x"}), "at least one subject"),
        (_obj(subject=["x"]), "subject 0 is not an object"),
        (_obj(subject=[{"name": 5, "digest": {"sha256": SHA256}}]), "subject 0: name must be a string"),
        (_obj(subject=[{"name": "x"}]), "subject 0: digest must be a non-empty object"),
        (_obj(subject=[{"name": "x", "digest": {}}]), "digest must be a non-empty object"),
        (_obj(subject=[{"name": "x", "digest": SHA256}]), "digest must be a non-empty object"),
        (_obj(subject=[{"name": "x", "digest": {"sha256": "zz" * 32}}]), "must be a hex string"),
        (_obj(subject=[{"name": "x", "digest": {"sha256": ""}}]), "must be a hex string"),
        (_obj(subject=[{"name": "x", "digest": {"sha256": 12}}]), "must be a hex string"),
        (_obj(subject=[{"name": "x", "digest": {"": "ab"}}]), "must be a hex string"),
        (_obj(subject=[{"name": "x", "digest": {"sha256": SHA256 + "\n"}}]), "must be a hex string"),
        (_obj(subject=[{"name": "x", "digest": {"sha256": SHA256[:-1]}}]), "sha256 digest has 64 hex digits"),
        (
            _obj(subject=[{"name": "x", "digest": {"sha256": SHA256 + "00"}}]),
            "sha256 digest has 64 hex digits",
        ),
        (_obj(subject=[{"name": "x", "digest": {"sha512": SHA256}}]), "sha512 digest has 128 hex digits"),
        (_obj(subject=[{"name": "x", "digest": {"sha384": SHA256}}]), "sha384 digest has 96 hex digits"),
        (
            _obj(
                subject=[
                    {"name": "ok", "digest": {"sha256": SHA256}},
                    {"name": "x", "digest": {"sha256": "a"}},
                ]
            ),
            "subject 1",
        ),
        (_obj(predicateType=None), "predicateType must be a non-empty string"),
        (_obj(predicateType=""), "predicateType must be a non-empty string"),
        (_obj(predicateType=["t"]), "predicateType must be a non-empty string"),
        (_obj(predicate=[1, 2]), "predicate must be a JSON object"),
        (_obj(predicate="text"), "predicate must be a JSON object"),
        (_obj(predicate=7), "predicate must be a JSON object"),
    ],
)
def test_invalid_statements_raise_format_error(obj: object, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        _parse(obj)


@pytest.mark.parametrize("payload", [b"", b"{", b"\xff\xfe", b"not json"])
def test_payload_that_is_not_json(payload: bytes) -> None:
    with pytest.raises(FormatError, match="payload is not JSON"):
        statement.parse(payload)


# --- subject arguments -------------------------------------------------------------------------


def test_parse_subject_arg() -> None:
    assert statement.parse_subject_arg(f"model.safetensors=sha256:{SHA256.upper()}") == Subject(
        "model.safetensors", {"sha256": SHA256}
    )
    # The name may itself contain '=': the last one separates the digest.
    assert statement.parse_subject_arg(f"a=b=sha512:{SHA512}") == Subject("a=b", {"sha512": SHA512})
    assert statement.parse_subject_arg("dir/file name=gitCommit:0a1b").digest == {"gitCommit": "0a1b"}


@pytest.mark.parametrize(
    ("arg", "match"),
    [
        (f"sha256:{SHA256}", "NAME=ALGORITHM:HEX"),
        (f"=sha256:{SHA256}", "NAME=ALGORITHM:HEX"),
        (f"file={SHA256}", "NAME=ALGORITHM:HEX"),
        ("file=", "NAME=ALGORITHM:HEX"),
        (f"file=:{SHA256}", "must be a hex string"),
        ("file=sha256:xyz", "must be a hex string"),
        ("file=sha256:", "must be a hex string"),
        (f"file=sha256:{SHA256[:62]}", "64 hex digits"),
        (f"file=sha512:{SHA256}", "128 hex digits"),
    ],
)
def test_parse_subject_arg_rejects(arg: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        statement.parse_subject_arg(arg)


# --- interop with the in-toto Attestation Framework's own Python bindings ----------------------

_names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_predicates = st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
    st.integers(-(2**31), 2**31) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
    min_size=1,
    max_size=4,
)
_STATEMENT_PARTS = {
    "names": st.lists(_names, min_size=1, max_size=4),
    "digest": st.binary(min_size=32, max_size=32),
    "predicate": _predicates,
}


@given(**_STATEMENT_PARTS)
def test_our_statements_pass_the_in_toto_validator(
    names: list[str], digest: bytes, predicate: dict[str, Any]
) -> None:
    ours = Statement(
        tuple(Subject(n, {"sha256": digest.hex()}) for n in names), "https://x.example/v1", predicate
    )
    pb = json_format.Parse(ours.canonical(), statement_pb2.Statement())
    intoto.Statement.copy_from_pb(pb).validate()
    assert [(s.name, dict(s.digest)) for s in pb.subject] == [(n, {"sha256": digest.hex()}) for n in names]
    assert (pb.predicate_type, json_format.MessageToDict(pb.predicate)) == (ours.predicate_type, predicate)


@given(**_STATEMENT_PARTS)
def test_we_read_statements_the_in_toto_bindings_write(
    names: list[str], digest: bytes, predicate: dict[str, Any]
) -> None:
    subjects = [ResourceDescriptor(name=n, digest={"sha256": digest.hex()}).pb for n in names]
    theirs = intoto.Statement(subjects, "https://x.example/v1", predicate)
    parsed = statement.parse(json_format.MessageToJson(theirs.pb).encode())
    assert parsed.subjects == tuple(Subject(n, {"sha256": digest.hex()}) for n in names)
    assert parsed.predicate_type == "https://x.example/v1"
    assert parsed.predicate == predicate  # protobuf writes integers as 1000.0, which compare equal
    assert statement.parse(parsed.canonical()) == parsed


def test_the_log_management_statements_pass_the_in_toto_validator() -> None:
    key = keys.generate().public_key()
    record = KeyRecord(keys.keyid(key), "alice", keys.public_raw(key), KeyRole.ACTOR, registered_at=1)
    for ours in (
        entries.genesis_statement("log.example", "log.example+00000000+AQ==", key),
        entries.registration_statement("alice", key),
        entries.revocation_statement(record, 5, "key stolen"),
    ):
        pb = json_format.Parse(ours.canonical(), statement_pb2.Statement())
        intoto.Statement.copy_from_pb(pb).validate()
