"""Ed25519 keys: generation, PKCS#8 PEM files, and key ids.

A key id is the lowercase hex SHA-256 of the public key's DER-encoded SubjectPublicKeyInfo, so
anyone can derive it with standard tools:
`openssl pkey -in key.pem -pubout -outform DER | sha256sum`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chainproof._internal import crypto_worker
from chainproof._internal.threads import Started, map_released, start_released
from chainproof.errors import FormatError, UsageError

PUBLIC_KEY_SIZE = crypto_worker.PUBLIC_KEY_SIZE
SIGNATURE_SIZE = crypto_worker.SIGNATURE_SIZE


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_pem(key: Ed25519PublicKey) -> str:
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode("ascii")


def keyid(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def load_public_pem(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as e:
        raise FormatError(f"not a PEM public key: {e}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise FormatError("the public key is not an Ed25519 key")
    return key


_SECRETS: dict[int, tuple[Ed25519PrivateKey, bytes]] = {}
_SECRETS_KEPT = 16


def _secret(key: Ed25519PrivateKey) -> bytes:
    """libsodium's 64-byte secret key for `key` (its seed, then its public key), remembered for
    the few keys a process signs with: deriving it costs as much as a signature."""
    kept = _SECRETS.get(id(key))
    if kept is not None and kept[0] is key:
        return kept[1]
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    secret = seed + public_raw(key.public_key())
    if len(_SECRETS) >= _SECRETS_KEPT:
        _SECRETS.clear()
    _SECRETS[id(key)] = (key, secret)  # the key is held, so its id cannot be reused meanwhile
    return secret


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """`key`'s Ed25519 signature of `message`.

    Ed25519 signatures are deterministic, so this is byte for byte what the key's own `sign`
    gives; libsodium makes it in about half the time, and releases the GIL while it does, so that
    a batch can be signed on every core from threads."""
    return crypto_worker.sign_one(_secret(key), message)


def sign_many(key: Ed25519PrivateKey, messages: Sequence[bytes]) -> list[bytes]:
    """`sign` over a batch, on every core. The threads do nothing but call libsodium: with Python
    work between the calls, the threads would mostly wait on each other for the GIL."""
    secret = _secret(key)
    return map_released(lambda m: crypto_worker.sign_one(secret, m), messages)


def start_sign_many(
    key: Ed25519PrivateKey, messages: Sequence[bytes]
) -> Started[bytes] | crypto_worker.Pending[list[bytes]]:
    """`sign_many`, started while the caller goes on with Python work of its own: a large batch
    in a process of its own (`crypto_worker`), where no GIL is shared, a small one on helper
    threads (`threads.Started`). Call `result()` on what it returns."""
    if crypto_worker.available(len(messages)):
        return crypto_worker.start_sign(_secret(key), messages)
    secret = _secret(key)
    return start_released(lambda m: crypto_worker.sign_one(secret, m), messages)


def verify(key: Ed25519PublicKey | bytes, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `key`'s Ed25519 signature of `message` (callers raise their own error).

    Verification goes through libsodium, which is about twice as fast as OpenSSL here, releases
    the GIL (a batch verifies on every core from threads) and rejects non-canonical signatures and
    small-order keys that some other verifiers accept.
    """
    raw = key if isinstance(key, bytes) else public_raw(key)
    return crypto_worker.verify_one((raw, signature, message))


def write_private(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None = None) -> None:
    """Write a PKCS#8 PEM file readable only by its owner; refuse to overwrite an existing file."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists; refusing to overwrite a key file") from None
    except OSError as e:
        raise UsageError(f"cannot create {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:  # a full disk, say: leave no truncated key file behind
        path.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None


def read_private(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read key file {path}: {e.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        if passphrase:
            raise UsageError(f"{path} is not encrypted; do not give a passphrase") from None
        raise UsageError(f"{path} is encrypted; give its passphrase (--passphrase-env)") from None
    except ValueError as e:
        hint = "wrong passphrase, or " if passphrase else ""
        raise UsageError(f"cannot load {path}: {hint}not a PKCS#8 PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def keyid_of(text: str) -> str:
    """The key id that `text` names: a 64-hex key id, or a PEM file holding the public key or the
    (unencrypted) private key."""
    value = text.strip().lower()
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return value
    path = Path(text)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{text} is neither a key id nor a readable key file: {e.strerror}") from None
    if b"PUBLIC KEY" in data:
        return keyid(load_public_pem(data.decode("ascii", errors="replace")))
    return keyid(read_private(path).public_key())


def verify_many(checks: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """`verify` over a batch of (raw public key, signature, message), on every core (as
    `sign_many`: the threads only call libsodium)."""
    return map_released(crypto_worker.verify_one, checks)


def start_verify_many(
    checks: Sequence[tuple[bytes, bytes, bytes]],
) -> Started[bool] | crypto_worker.Pending[list[bool]]:
    """`verify_many`, started while the caller goes on with Python work of its own: a large batch
    in a process of its own (`crypto_worker`), a small one on helper threads (`threads.Started`).
    Call `result()` on what it returns."""
    if crypto_worker.available(len(checks)):
        return crypto_worker.start_verify(checks)
    return start_released(crypto_worker.verify_one, checks)
