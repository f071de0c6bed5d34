"""Tests of chainproof.attest.keys: Ed25519 keys, key ids and PEM key files."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from chainproof.attest import keys
from chainproof.errors import FormatError, UsageError

# RFC 8032 section 7.1, TEST 1.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG_EMPTY = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
# RFC 8410: the DER SubjectPublicKeyInfo of an Ed25519 key is this prefix and the raw key.
ED25519_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """A permissive umask, so the 0600 mode must come from chainproof itself."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_rfc8032_vector() -> None:
    key = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    assert keys.public_raw(key.public_key()) == RFC8032_PUBLIC
    assert key.sign(b"") == RFC8032_SIG_EMPTY
    assert keys.verify(key.public_key(), RFC8032_SIG_EMPTY, b"")
    assert not keys.verify(key.public_key(), RFC8032_SIG_EMPTY, b"x")
    assert not keys.verify(key.public_key(), b"\x00" * 64, b"")
    assert not keys.verify(key.public_key(), b"short", b"")


def test_sign_is_the_rfc8032_signature() -> None:
    key = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    assert keys.sign(key, b"") == RFC8032_SIG_EMPTY


@given(st.binary(min_size=32, max_size=32), st.binary(max_size=2048))
def test_sign_gives_the_bytes_the_key_itself_gives(seed: bytes, message: bytes) -> None:
    # Ed25519 is deterministic: libsodium and OpenSSL must agree on every byte.
    key = Ed25519PrivateKey.from_private_bytes(seed)
    assert keys.sign(key, message) == key.sign(message)


def test_a_batch_signs_and_verifies_as_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_JOBS", "2")
    key, other = keys.generate(), keys.generate()
    messages = [b"message %d" % n for n in range(300)]
    sigs = keys.sign_many(key, messages)
    assert sigs == [key.sign(m) for m in messages]
    raw, other_raw = keys.public_raw(key.public_key()), keys.public_raw(other.public_key())
    checks = [(raw, s, m) for s, m in zip(sigs, messages, strict=True)]
    checks[7] = (other_raw, sigs[7], messages[7])  # another key
    checks[250] = (raw, sigs[250], b"tampered")
    checks[299] = (raw, b"short", messages[299])
    assert keys.verify_many(checks) == [n not in (7, 250, 299) for n in range(300)]


def test_sign_never_mixes_up_keys() -> None:
    # Keys come and go; a remembered secret is only ever used for the very key it came from.
    for _ in range(3 * keys._SECRETS_KEPT):
        key = keys.generate()
        assert keys.verify(key.public_key(), keys.sign(key, b"m"), b"m")


def test_keyid_is_sha256_of_the_spki_der() -> None:
    pub = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET).public_key()
    expected = hashlib.sha256(ED25519_SPKI_PREFIX + RFC8032_PUBLIC).hexdigest()
    assert keys.keyid(pub) == expected
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert der == ED25519_SPKI_PREFIX + RFC8032_PUBLIC
    for _ in range(5):
        other = keys.generate().public_key()
        assert keys.keyid(other) == hashlib.sha256(ED25519_SPKI_PREFIX + keys.public_raw(other)).hexdigest()
        assert keys.keyid(other) != expected


def test_public_pem_round_trip() -> None:
    pub = keys.generate().public_key()
    pem = keys.public_pem(pub)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert keys.public_raw(keys.load_public_pem(pem)) == keys.public_raw(pub)


def test_load_public_pem_rejects_garbage_and_other_key_types() -> None:
    with pytest.raises(FormatError, match="not a PEM public key"):
        keys.load_public_pem("hello")
    with pytest.raises(FormatError, match="not a PEM public key"):
        keys.load_public_pem("-----BEGIN PUBLIC KEY-----\n\u00e9\n-----END PUBLIC KEY-----\n")
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    with pytest.raises(FormatError, match="not an Ed25519 key"):
        keys.load_public_pem(ec_pem)


def test_write_private_is_owner_only_and_reads_back(tmp_path: Path, umask_zero: None) -> None:
    key = keys.generate()
    path = tmp_path / "signing.pem"
    keys.write_private(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    loaded = keys.read_private(path)
    assert keys.public_raw(loaded.public_key()) == keys.public_raw(key.public_key())


def test_write_private_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "signing.pem"
    path.write_text("precious")
    with pytest.raises(UsageError, match="already exists; refusing to overwrite"):
        keys.write_private(path, keys.generate())
    assert path.read_text() == "precious"
    written = tmp_path / "second.pem"
    keys.write_private(written, keys.generate())
    before = written.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        keys.write_private(written, keys.generate())
    assert written.read_bytes() == before


def test_write_private_into_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot create"):
        keys.write_private(tmp_path / "nope" / "k.pem", keys.generate())


def test_encrypted_round_trip(tmp_path: Path, umask_zero: None) -> None:
    key = keys.generate()
    path = tmp_path / "enc.pem"
    keys.write_private(path, key, b"correct horse")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "ENCRYPTED PRIVATE KEY" in path.read_text()
    loaded = keys.read_private(path, b"correct horse")
    assert keys.public_raw(loaded.public_key()) == keys.public_raw(key.public_key())


def test_wrong_or_missing_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "enc.pem"
    keys.write_private(path, keys.generate(), b"correct horse")
    with pytest.raises(UsageError, match="wrong passphrase"):
        keys.read_private(path, b"battery staple")
    with pytest.raises(UsageError, match=r"is encrypted; give its passphrase \(--passphrase-env\)"):
        keys.read_private(path)
    with pytest.raises(UsageError, match="is encrypted"):
        keys.read_private(path, b"")


def test_passphrase_for_an_unencrypted_key(tmp_path: Path) -> None:
    path = tmp_path / "plain.pem"
    keys.write_private(path, keys.generate())
    with pytest.raises(UsageError, match="is not encrypted; do not give a passphrase"):
        keys.read_private(path, b"secret")


def test_read_private_rejects_missing_garbage_and_other_key_types(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read key file"):
        keys.read_private(tmp_path / "absent.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    with pytest.raises(UsageError, match="not a PKCS#8 PEM private key"):
        keys.read_private(garbage)
    ec_path = tmp_path / "ec.pem"
    ec_path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(UsageError, match="not an Ed25519 key"):
        keys.read_private(ec_path)
