"""Tests of chainproof.attest.dsse: PAE, canonical envelopes, parsing, and securesystemslib interop."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st
from securesystemslib import dsse as sslib_dsse
from securesystemslib.exceptions import VerificationError as SslibVerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]

from chainproof.attest import dsse, keys
from chainproof.attest.dsse import Envelope, Signature, SignatureError
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import FormatError

PAYLOAD = b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}'
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
PUB = KEY.public_key()
KEYID = keys.keyid(PUB)


def _signed(payload: bytes = PAYLOAD, payload_type: str = dsse.INTOTO_PAYLOAD_TYPE) -> Envelope:
    return dsse.sign(payload_type, payload, KEY, KEYID)


def _sslib_key() -> SSlibKey:
    return SSlibKey.from_crypto(PUB, keyid=KEYID)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- PAE ---------------------------------------------------------------------------------------


def test_pae_known_answer_from_the_dsse_spec() -> None:
    assert dsse.pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert dsse.pae("", b"") == b"DSSEv1 0  0 "
    assert dsse.pae("t\u00e9", b"\x00 \xff") == b"DSSEv1 3 t\xc3\xa9 3 \x00 \xff"


@given(payload_type=st.text(max_size=40), payload=st.binary(max_size=200))
def test_pae_equals_securesystemslib(payload_type: str, payload: bytes) -> None:
    assert dsse.pae(payload_type, payload) == sslib_dsse.Envelope(payload, payload_type, {}).pae()


# --- signing and verification ------------------------------------------------------------------


def test_sign_then_verify() -> None:
    env = _signed()
    assert env.signatures[0].keyid == KEYID
    env.verify_signature(env.signatures[0], PUB)
    assert keys.verify(PUB, env.signatures[0].sig, dsse.pae(env.payload_type, env.payload))


def test_sign_many_signs_each_payload_as_sign_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    payloads = [b"payload %d" % n for n in range(300)]
    assert dsse.sign_many(dsse.INTOTO_PAYLOAD_TYPE, payloads, KEY, KEYID) == [_signed(p) for p in payloads]


def test_a_carried_statement_never_outlives_its_payload() -> None:
    st_ = Statement((Subject("a", {"sha256": "ab" * 32}),), "https://example.com/t", {"k": 1})
    env = _signed(st_.canonical()).with_statement(st_)
    assert env.statement is st_
    assert env == _signed(st_.canonical())  # it is not part of the envelope's value
    assert replace(env, payload=b"{}").statement is None
    assert dsse.from_json_obj(env.to_json_obj()).statement is None


def test_verify_rejects_tampering_and_other_keys() -> None:
    env = _signed()
    sig = env.signatures[0]
    for bad in (
        Envelope(env.payload_type, env.payload + b" ", env.signatures),
        Envelope("application/json", env.payload, env.signatures),
    ):
        with pytest.raises(SignatureError, match=KEYID):
            bad.verify_signature(sig, PUB)
    flipped = Signature(sig.keyid, bytes([sig.sig[0] ^ 1]) + sig.sig[1:])
    with pytest.raises(SignatureError):
        env.verify_signature(flipped, PUB)
    with pytest.raises(SignatureError):
        env.verify_signature(sig, Ed25519PrivateKey.generate().public_key())
    with pytest.raises(SignatureError, match="no keyid"):
        env.verify_signature(Signature("", flipped.sig), PUB)


# --- securesystemslib interop ------------------------------------------------------------------


def test_securesystemslib_verifies_our_envelopes() -> None:
    ours = _signed()
    theirs = sslib_dsse.Envelope.from_dict(json.loads(ours.canonical()))
    assert theirs.payload == PAYLOAD
    assert theirs.payload_type == dsse.INTOTO_PAYLOAD_TYPE
    accepted = theirs.verify([_sslib_key()], 1)
    assert list(accepted) == [KEYID]


def test_securesystemslib_rejects_our_envelope_when_tampered() -> None:
    obj = _signed().to_json_obj()
    obj["payload"] = base64.b64encode(PAYLOAD + b" ").decode()
    with pytest.raises(SslibVerificationError):
        sslib_dsse.Envelope.from_dict(obj).verify([_sslib_key()], 1)


def test_we_verify_securesystemslib_envelopes() -> None:
    signer = CryptoSigner(KEY, _sslib_key())
    theirs = sslib_dsse.Envelope(PAYLOAD, dsse.INTOTO_PAYLOAD_TYPE, {})
    theirs.sign(signer)
    ours = dsse.parse(json.dumps(theirs.to_dict()).encode())
    assert ours.payload == PAYLOAD
    assert ours.signatures[0].keyid == KEYID
    ours.verify_signature(ours.signatures[0], PUB)
    # Ed25519 is deterministic, so both libraries produce the very same envelope.
    assert ours.canonical() == _signed().canonical()


def test_keyid_is_what_securesystemslib_carries() -> None:
    key = _sslib_key()
    assert key.keyid == KEYID
    assert key.keytype == "ed25519"
    assert bytes.fromhex(key.keyval["public"]) == keys.public_raw(PUB)


# --- canonical form ----------------------------------------------------------------------------


def test_canonical_form_is_rfc8785_of_exactly_three_members() -> None:
    env = _signed()
    canonical = env.canonical()
    obj = json.loads(canonical)
    assert list(obj) == ["payload", "payloadType", "signatures"]
    assert list(obj["signatures"][0]) == ["keyid", "sig"]
    assert canonical == json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    assert base64.b64decode(obj["payload"], validate=True) == PAYLOAD
    assert obj["payload"] == base64.b64encode(PAYLOAD).decode()  # standard alphabet, padded


def test_canonical_form_is_stable_under_whitespace_key_order_and_base64url() -> None:
    env = _signed(payload=b"\xfb\xff\xfe" + PAYLOAD)  # bytes whose base64 differs between alphabets
    canonical = env.canonical()
    sig = env.signatures[0]
    # The canonical form uses the standard alphabet with padding, whatever the input used.
    payload_b64 = json.loads(canonical)["payload"]
    assert payload_b64 == base64.b64encode(env.payload).decode()
    assert payload_b64.startswith("+/")
    assert json.loads(canonical)["signatures"][0]["sig"] == base64.b64encode(sig.sig).decode()
    variants: list[Any] = [
        json.dumps(env.to_json_obj(), indent=4),
        json.dumps(
            {
                "signatures": [{"sig": _b64url(sig.sig), "keyid": sig.keyid}],
                "payload": _b64url(env.payload),
                "payloadType": env.payload_type,
            }
        ),
        "\n  "
        + json.dumps(
            {
                "payloadType": env.payload_type,
                "signatures": [{"keyid": sig.keyid, "sig": base64.b64encode(sig.sig).decode().rstrip("=")}],
                "payload": base64.urlsafe_b64encode(env.payload).decode(),
                "extra": "ignored",
            },
            separators=(" , ", " : "),
        )
        + "\n",
    ]
    assert "-" in _b64url(env.payload) or "_" in _b64url(env.payload)
    for text in variants:
        parsed = dsse.parse(text.encode())
        assert parsed == env
        assert parsed.canonical() == canonical


@given(
    payload=st.binary(max_size=100),
    payload_type=st.text(min_size=1, max_size=20),
    keyid=st.text(max_size=20),
    sig=st.binary(max_size=80),
)
def test_canonical_round_trip(payload: bytes, payload_type: str, keyid: str, sig: bytes) -> None:
    env = Envelope(payload_type, payload, (Signature(keyid, sig),))
    assert dsse.parse(env.canonical()) == env
    assert dsse.parse(env.canonical()).canonical() == env.canonical()


@given(
    payload=st.binary(max_size=100),
    payload_type=st.text(min_size=1, max_size=20),
    signatures=st.lists(st.tuples(st.text(max_size=20), st.binary(max_size=80)), min_size=1, max_size=3),
)
def test_canonical_is_what_rfc8785_makes_of_the_envelope(
    payload: bytes, payload_type: str, signatures: list[tuple[str, bytes]]
) -> None:
    """Control characters, quotes, backslashes and non-ASCII included (hypothesis's text draws
    them all, surrogates aside)."""
    env = Envelope(payload_type, payload, tuple(Signature(k, s) for k, s in signatures))
    assert env.canonical() == rfc8785.dumps(env.to_json_obj())


@pytest.mark.parametrize("where", ["payload_type", "keyid"])
def test_a_lone_surrogate_has_no_canonical_form(where: str) -> None:
    text = "type\ud800"
    env = Envelope(
        text if where == "payload_type" else "t", b"p", (Signature(text if where == "keyid" else "k", b"s"),)
    )
    with pytest.raises(FormatError, match="not valid Unicode"):
        env.canonical()


# --- malformed envelopes -----------------------------------------------------------------------


def _obj(**changes: Any) -> dict[str, Any]:
    obj = _signed().to_json_obj()
    for k, v in changes.items():
        if v is None:
            del obj[k]
        else:
            obj[k] = v
    return obj


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"", "not JSON"),
        (b"[]", "must be a JSON object"),
        (b'"envelope"', "must be a JSON object"),
        (json.dumps(_obj(payloadType=None)).encode(), "no payloadType"),
        (json.dumps(_obj(payloadType="")).encode(), "no payloadType"),
        (json.dumps(_obj(payloadType=7)).encode(), "no payloadType"),
        (json.dumps(_obj(payload=None)).encode(), "payload must be a base64 string"),
        (json.dumps(_obj(payload=12)).encode(), "payload must be a base64 string"),
        (json.dumps(_obj(payload="not base64!")).encode(), "payload is not valid base64"),
        (json.dumps(_obj(payload="e30-!!")).encode(), "payload is not valid base64"),
        (json.dumps(_obj(payload="a-b c")).encode(), "payload is not valid base64"),
        (json.dumps(_obj(payload="YQ===")).encode(), "payload is not valid base64"),
        (json.dumps(_obj(payload="Y")).encode(), "payload is not valid base64"),
        (json.dumps(_obj(signatures=None)).encode(), "no signatures"),
        (json.dumps(_obj(signatures=[])).encode(), "no signatures"),
        (json.dumps(_obj(signatures={"keyid": "k", "sig": "AA=="})).encode(), "no signatures"),
        (json.dumps(_obj(signatures=["AA=="])).encode(), "signature 0 is not a JSON object"),
        (json.dumps(_obj(signatures=[{"keyid": 1, "sig": "AA=="}])).encode(), "keyid that is not a string"),
        (json.dumps(_obj(signatures=[{"keyid": "k"}])).encode(), "signature 0 must be a base64 string"),
        (json.dumps(_obj(signatures=[{"keyid": "k", "sig": "AA=="}, {"sig": "%%"}])).encode(), "signature 1"),
        (json.dumps(_obj(signatures=[{"keyid": "k", "sig": "AA_-*"}])).encode(), "signature 0 is not valid"),
    ],
)
def test_malformed_envelopes_raise_format_error(data: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        dsse.parse(data)


def test_a_missing_keyid_is_allowed_and_empty() -> None:
    obj = _obj(signatures=[{"sig": base64.b64encode(_signed().signatures[0].sig).decode()}])
    env = dsse.from_json_obj(obj)
    assert env.signatures[0].keyid == ""
    env.verify_signature(env.signatures[0], PUB)


# --- parse_documents ---------------------------------------------------------------------------


def _line(payload: bytes) -> bytes:
    return json.dumps(_signed(payload=payload).to_json_obj()).encode()


def test_parse_documents_single_envelope() -> None:
    env = _signed()
    pretty = json.dumps(env.to_json_obj(), indent=2).encode()
    assert dsse.parse_documents(pretty, "a.json") == [("a.json", env)]


def test_parse_documents_json_array() -> None:
    envs = [_signed(payload=b"%d" % i) for i in range(3)]
    data = json.dumps([e.to_json_obj() for e in envs], indent=1).encode()
    assert dsse.parse_documents(data, "arr.json") == [(f"arr.json[{i}]", e) for i, e in enumerate(envs)]


def test_parse_documents_json_lines_with_line_numbers() -> None:
    data = _line(b"1") + b"\n\n" + _line(b"2") + b"\n   \n" + _line(b"3") + b"\n"
    got = dsse.parse_documents(data, "in.jsonl")
    assert [label for label, _ in got] == ["in.jsonl:1", "in.jsonl:3", "in.jsonl:5"]
    assert [env.payload for _, env in got] == [b"1", b"2", b"3"]


def test_parse_documents_reports_the_bad_line() -> None:
    data = _line(b"1") + b"\n" + _line(b"2") + b"\n{not json\n" + _line(b"4")
    with pytest.raises(FormatError, match=r"^in\.jsonl:3: not JSON"):
        dsse.parse_documents(data, "in.jsonl")
    bad_envelope = _line(b"1") + b"\n" + json.dumps(_obj(signatures=[])).encode() + b"\n"
    with pytest.raises(FormatError, match=r"^in\.jsonl:2: the envelope has no signatures"):
        dsse.parse_documents(bad_envelope, "in.jsonl")


def test_parse_documents_reports_the_bad_array_element() -> None:
    data = json.dumps([_signed().to_json_obj(), _obj(payloadType=None)]).encode()
    with pytest.raises(FormatError, match=r"^arr\.json\[1\]: the envelope has no payloadType"):
        dsse.parse_documents(data, "arr.json")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "no envelope in the input"),
        (b"\n \n\t\n", "no envelope in the input"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"42", "must be a JSON object"),
        (b"null", "must be a JSON object"),
    ],
)
def test_parse_documents_rejects(data: bytes, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        dsse.parse_documents(data, "src")
