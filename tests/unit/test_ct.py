"""Tests of chainproof.log.ct: Certificate Transparency signed tree heads (RFC 6962 section 3.5)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.errors import FormatError
from chainproof.log import ct
from chainproof.log.ct import SignedTreeHead, TreeHeadError

ARGON = json.loads((Path(__file__).parents[1] / "vectors" / "logs" / "ct-argon2027h1.json").read_text())
ROOT = hashlib.sha256(b"a root").digest()


def _spki(key: Any) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _signed(key: Any, sth: SignedTreeHead, sig_alg: int, hash_alg: int = 4) -> SignedTreeHead:
    """`sth` signed by `key` as a CT log signs, in a TLS DigitallySigned structure."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        sig = key.sign(sth.signed_bytes(), ec.ECDSA(hashes.SHA256()))
    else:
        sig = key.sign(sth.signed_bytes(), padding.PKCS1v15(), hashes.SHA256())
    return SignedTreeHead(
        sth.tree_size, sth.timestamp, sth.root, struct.pack(">BBH", hash_alg, sig_alg, len(sig)) + sig
    )


def _json(sth: SignedTreeHead) -> str:
    return json.dumps(
        {
            "tree_size": sth.tree_size,
            "timestamp": sth.timestamp,
            "sha256_root_hash": base64.b64encode(sth.root).decode(),
            "tree_head_signature": base64.b64encode(sth.signature).decode(),
        }
    )


def test_argon_tree_heads_verify_under_the_log_list_key() -> None:
    key = ct.parse_log_key(ARGON["log"]["key"])
    assert ct.log_id(key) == base64.b64decode(ARGON["log"]["log_id"])
    for obj in ARGON["get-sth"]:
        sth = ct.parse_sth(json.dumps(obj))
        assert sth.tree_size == obj["tree_size"]
        ct.verify_sth(sth, key)
        for changed in (
            SignedTreeHead(sth.tree_size + 1, sth.timestamp, sth.root, sth.signature),
            SignedTreeHead(sth.tree_size, sth.timestamp - 1, sth.root, sth.signature),
            SignedTreeHead(sth.tree_size, sth.timestamp, ROOT, sth.signature),
        ):
            with pytest.raises(TreeHeadError, match="does not verify"):
                ct.verify_sth(changed, key)


@pytest.mark.parametrize(
    ("key", "sig_alg"),
    [(ec.generate_private_key(ec.SECP256R1()), 3), (rsa.generate_private_key(65537, 2048), 1)],
)
def test_ecdsa_and_rsa_logs(key: Any, sig_alg: int) -> None:
    public = ct.parse_log_key(_spki(key))
    sth = _signed(key, SignedTreeHead(42, 1_700_000_000_000, ROOT, b""), sig_alg)
    ct.verify_sth(ct.parse_sth(_json(sth)), public)
    other_alg = SignedTreeHead(
        42, sth.timestamp, ROOT, bytes([4, 4 - sig_alg]) + sth.signature[2:]
    )  # RSA <-> ECDSA
    with pytest.raises(TreeHeadError, match="is not the log key's"):
        ct.verify_sth(other_alg, public)
    with pytest.raises(TreeHeadError, match="not SHA-256"):
        ct.verify_sth(_signed(key, sth, sig_alg, hash_alg=2), public)
    with pytest.raises(TreeHeadError, match="truncated"):
        ct.verify_sth(SignedTreeHead(42, sth.timestamp, ROOT, sth.signature[:3]), public)
    with pytest.raises(TreeHeadError, match="length"):
        ct.verify_sth(SignedTreeHead(42, sth.timestamp, ROOT, sth.signature + b"\x00"), public)
    stranger = ct.parse_log_key(_spki(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(TreeHeadError):
        ct.verify_sth(sth, stranger)


_GOOD = json.loads(json.dumps(ARGON["get-sth"][0]))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "not JSON"),
        ("[]", "JSON object"),
        (json.dumps({**_GOOD, "tree_size": -1}), "tree_size must be an integer below 2"),
        (json.dumps({**_GOOD, "tree_size": 2**64}), "tree_size must be an integer below 2"),
        (json.dumps({**_GOOD, "tree_size": "5"}), "tree_size must be an integer below 2"),
        (json.dumps({**_GOOD, "timestamp": True}), "timestamp must be an integer below 2"),
        (json.dumps({**_GOOD, "sha256_root_hash": "AAAA"}), "3 bytes, not 32"),
        (json.dumps({**_GOOD, "sha256_root_hash": 5}), "must be a base64 string"),
        (json.dumps({**_GOOD, "tree_head_signature": "!!"}), "not valid base64"),
    ],
)
def test_malformed_tree_heads(text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match):
        ct.parse_sth(text)


def test_a_log_key_must_be_an_ecdsa_or_rsa_spki() -> None:
    for bad in ("not base64!", base64.b64encode(b"not DER").decode(), _spki(Ed25519PrivateKey.generate())):
        with pytest.raises(FormatError, match=r"needs the log's key|ECDSA or RSA"):
            ct.parse_log_key(bad)
