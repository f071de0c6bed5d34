"""Certificate Transparency signed tree heads (RFC 6962 section 3.5), verified with the log's key.

A CT log signs its tree heads as TLS `DigitallySigned` structures rather than signed notes, with
the ECDSA P-256 or RSA key its log list publishes (base64 of the DER SubjectPublicKeyInfo). This
reads the JSON of `get-sth` and checks it, so that `verify-proof` can bind a proof from a CT log to
a tree head the log signed, as it binds one to a C2SP checkpoint.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from chainproof._internal import untrusted_json
from chainproof.errors import FormatError, VerificationError
from chainproof.log import merkle
from chainproof.log.note import b64decode_strict

_SHA256 = 4  # TLS HashAlgorithm
_RSA, _ECDSA = 1, 3  # TLS SignatureAlgorithm
_V1, _TREE_HASH = 0, 1  # RFC 6962 Version and SignatureType

LogKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class TreeHeadError(VerificationError):
    """A signed tree head does not verify under the log's key."""


@dataclass(frozen=True)
class SignedTreeHead:
    tree_size: int
    timestamp: int  # milliseconds since the Unix epoch
    root: bytes
    signature: bytes  # the TLS DigitallySigned structure

    def signed_bytes(self) -> bytes:
        """The TreeHeadSignature structure the log signs."""
        return struct.pack(">BBQQ", _V1, _TREE_HASH, self.timestamp, self.tree_size) + self.root


def _base64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a base64 string")
    return b64decode_strict(value, what)


def _uint64(obj: dict[str, Any], name: str) -> int:
    value = obj.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < merkle.SIZE_LIMIT:
        raise FormatError(f"the tree head's {name} must be an integer below 2**64")
    return value


def parse_sth(text: str) -> SignedTreeHead:
    """The JSON a CT log's `get-sth` returns."""
    try:
        obj = untrusted_json.loads(text)
    except ValueError as e:
        raise FormatError(f"the tree head is not JSON ({e})") from None
    if not isinstance(obj, dict):
        raise FormatError("the tree head must be a JSON object")
    root = _base64(obj.get("sha256_root_hash"), "sha256_root_hash")
    if len(root) != merkle.HASH_SIZE:
        raise FormatError(f"sha256_root_hash is {len(root)} bytes, not {merkle.HASH_SIZE}")
    signature = _base64(obj.get("tree_head_signature"), "tree_head_signature")
    return SignedTreeHead(_uint64(obj, "tree_size"), _uint64(obj, "timestamp"), root, signature)


def looks_like_sth(text: str) -> bool:
    """Whether `text` is JSON (a tree head) rather than a signed note."""
    return text.lstrip().startswith("{")


def parse_log_key(text: str) -> LogKey:
    """A log's public key as log lists publish it: base64 of the DER SubjectPublicKeyInfo."""
    try:
        key = serialization.load_der_public_key(b64decode_strict(text.strip(), "the log key"))
    except (FormatError, ValueError, UnsupportedAlgorithm):
        raise FormatError(
            "a CT tree head needs the log's key: base64 of its DER SubjectPublicKeyInfo"
        ) from None
    if not isinstance(key, LogKey):
        raise FormatError("a CT log key must be ECDSA or RSA")
    return key


def log_id(key: LogKey) -> bytes:
    """The log's id: the SHA-256 of its key's DER SubjectPublicKeyInfo (RFC 6962 section 3.2)."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


def verify_sth(sth: SignedTreeHead, key: LogKey) -> None:
    """Raise TreeHeadError unless the log's key signed this tree head with SHA-256."""
    signed = sth.signature
    if len(signed) < 4:
        raise TreeHeadError("the tree head signature is truncated")
    hash_alg, sig_alg, length = struct.unpack(">BBH", signed[:4])
    if len(signed) != 4 + length:
        raise TreeHeadError("the tree head signature's length does not match its bytes")
    if hash_alg != _SHA256:
        raise TreeHeadError(f"the tree head is signed with hash algorithm {hash_alg}, not SHA-256")
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and sig_alg == _ECDSA:
            key.verify(signed[4:], sth.signed_bytes(), ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey) and sig_alg == _RSA:
            key.verify(signed[4:], sth.signed_bytes(), padding.PKCS1v15(), hashes.SHA256())
        else:
            raise TreeHeadError(f"the tree head's signature algorithm {sig_alg} is not the log key's")
    except InvalidSignature:
        raise TreeHeadError("the tree head signature does not verify under the log key") from None
