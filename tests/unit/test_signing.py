"""Tests of chainproof.attest.signing: statements built and signed, predicates read from untrusted
bytes, and the size a log's writer takes."""

from __future__ import annotations

import pytest

from chainproof.attest import dsse, keys, signing, statement
from chainproof.attest.signing import Attestation, NoSubject
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import FormatError, UsageError, VerificationError

KEY = keys.generate()
SUBJECTS = (Subject("model.safetensors", {"sha256": "ab" * 32}), Subject("data", {"sha256": "cd" * 32}))
TYPE = "https://example.com/attestation/v1"


def test_an_attestation_is_a_signed_statement_of_what_was_asked() -> None:
    signed = signing.sign_attestation(key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={"a": 1})
    assert signed.statement == Statement(SUBJECTS, TYPE, {"a": 1})
    assert signed.keyid == keys.keyid(KEY.public_key())
    env = signed.envelope
    assert env.payload_type == dsse.INTOTO_PAYLOAD_TYPE
    assert statement.parse(env.payload) == signed.statement
    [sig] = env.signatures
    assert sig.keyid == signed.keyid
    env.verify_signature(sig, KEY.public_key())
    with pytest.raises(dsse.SignatureError):
        env.verify_signature(sig, keys.generate().public_key())


def test_the_json_shape() -> None:
    signed = signing.sign_attestation(key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={})
    assert signed.to_json() == {
        "keyid": keys.keyid(KEY.public_key()),
        "predicate_type": TYPE,
        "subjects": ["model.safetensors", "data"],
    }


def test_an_attestation_is_the_statement_signed() -> None:
    """Ed25519 signatures are deterministic: the attestation's envelope is the statement's, signed."""
    st = Statement(SUBJECTS, TYPE, {"b": [1, 2]})
    assert signing.sign_attestation(
        key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={"b": [1, 2]}
    ).envelope == (signing.sign_statement(st, KEY))


def test_no_subject_is_a_usage_error() -> None:
    with pytest.raises(NoSubject) as caught:
        signing.sign_attestation(key=KEY, subjects=[], predicate_type=TYPE, predicate={})
    assert isinstance(caught.value, UsageError)
    assert not isinstance(caught.value, VerificationError)


def test_a_statement_the_log_would_not_read_is_not_signed() -> None:
    with pytest.raises(FormatError, match="predicateType"):
        signing.sign_attestation(key=KEY, subjects=SUBJECTS, predicate_type="", predicate={})
    with pytest.raises(FormatError, match="RFC 8785"):
        signing.sign_attestation(
            key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={"x": float("nan")}
        )


def test_an_envelope_past_the_limit_is_refused() -> None:
    size = signing.sign_attestation(
        key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={}
    ).envelope.canonical_size()
    signing.sign_attestation(key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={}, max_bytes=size)
    with pytest.raises(FormatError) as caught:
        signing.sign_attestation(
            key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={}, max_bytes=size - 1
        )
    assert str(caught.value) == dsse.too_large(size, size - 1)


def test_the_limit_defaults_to_the_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_MAX_ENTRY_BYTES", "100")
    with pytest.raises(FormatError, match="at most 100 bytes"):
        signing.sign_attestation(key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={})
    monkeypatch.setenv("CHAINPROOF_MAX_ENTRY_BYTES", "100000")
    assert isinstance(
        signing.sign_attestation(key=KEY, subjects=SUBJECTS, predicate_type=TYPE, predicate={}), Attestation
    )


def test_a_predicate_from_untrusted_bytes() -> None:
    assert signing.parse_predicate(b'{"a": {"b": 1}}') == {"a": {"b": 1}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[1]", "the predicate must be a JSON object"),
        (b'"text"', "the predicate must be a JSON object"),
        (b'{"a": 1, "a": 2}', "the predicate: the key 'a' appears twice in one object"),
        (b"{nope", "the predicate is not JSON: "),
        (b"\xff", "the predicate"),
    ],
)
def test_a_predicate_that_is_not_a_json_object(data: bytes, message: str) -> None:
    with pytest.raises(FormatError) as caught:
        signing.parse_predicate(data)
    assert str(caught.value).startswith(message)
