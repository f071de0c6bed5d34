"""The vault's cryptography, pure: master keys, wrapped dataset keys and sealed blobs.

Nothing here reads a file or the network. Formats (docs/formats.md, "Data vault"):

- A master key file is the line `chainproof-vault-key-v1` and the line of its 32 random bytes in
  standard base64. Its id is the first 16 hex digits of SHA-256("chainproof-vault-key-id\\0" ||
  key): wrapped keys name the master key that wraps them, so that a server given another master
  key says so instead of failing every GCM check.
- A dataset key is 32 random bytes, made when the dataset is first pushed, wrapped by AES-256-GCM
  under the master key with a random 96-bit nonce and the dataset's root as associated data (a
  wrapped key moved to another dataset does not unwrap). Rotating the master key re-wraps it;
  the blobs stay as they are.
- A blob is one file's bytes, sealed: the header `CPVAULT1` || 16-byte random salt || chunk size
  (4 bytes, big-endian), then the file cut into chunks of `chunk size` bytes (the last shorter,
  an empty file one empty chunk), each sealed by AES-256-GCM (its 16-byte tag appended). The
  chunks' key is HKDF-SHA256(dataset key, salt, "chainproof-vault-blob-v1" || root || file
  SHA-256): a fresh key per blob, so that a file uploaded again after a failure never reuses a
  (key, nonce) pair. The nonce of chunk i is i as 11 bytes big-endian || 0x01 for the last chunk,
  0x00 for any other (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár); the
  associated data is "chainproof-vault-chunk-v1" || root || file SHA-256 || i (8 bytes) || the
  last-chunk flag. A chunk moved to another place, file or dataset, chunks reordered, or a blob
  cut short (its last chunk lost) fails the GCM check.
"""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chainproof.errors import FormatError, UsageError, VerificationError

KEY_HEADER = "chainproof-vault-key-v1"
KEY_SIZE = 32
TAG_SIZE = 16
MAGIC = b"CPVAULT1"
SALT_SIZE = 16
HEADER_SIZE = len(MAGIC) + SALT_SIZE + 4
CHUNK_SIZE = 1 << 20
"""Plaintext bytes per sealed chunk: large enough that the tags and calls cost little (1.6 %%
of a 1 KiB chunk's time is the tag; of a MiB, nothing), small enough to hold a few in memory."""
MAX_CHUNK_SIZE = 16 << 20
_MAX_CHUNKS = 1 << 64
_WRAP_AAD = b"chainproof-vault-dataset-key-v1\0"
_BLOB_INFO = b"chainproof-vault-blob-v1\0"
_CHUNK_AAD = b"chainproof-vault-chunk-v1\0"
_KEY_ID = b"chainproof-vault-key-id\0"


class TamperedError(VerificationError):
    """Sealed bytes fail their check: a blob or wrapped key changed, cut short, moved or reordered."""


@dataclass(frozen=True)
class MasterKey:
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_SIZE:
            raise FormatError(f"a vault master key is {KEY_SIZE} bytes, not {len(self.secret)}")

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_SIZE))

    @property
    def keyid(self) -> str:
        return hashlib.sha256(_KEY_ID + self.secret).hexdigest()[:16]

    def dumps(self) -> bytes:
        return f"{KEY_HEADER}\n{base64.b64encode(self.secret).decode()}\n".encode()

    @classmethod
    def loads(cls, data: bytes, name: str = "the vault key") -> MasterKey:
        lines = data.decode("ascii", "replace").split()
        if len(lines) != 2 or lines[0] != KEY_HEADER:
            raise FormatError(f"{name} is not a vault master key (a `vault keygen` file)")
        try:
            secret = base64.b64decode(lines[1], validate=True)
        except ValueError:
            raise FormatError(f"{name}: the key is not base64") from None
        if len(secret) != KEY_SIZE:
            raise FormatError(f"{name}: the key is {len(secret)} bytes, not {KEY_SIZE}")
        return cls(secret)


@dataclass(frozen=True)
class WrappedKey:
    """A dataset key sealed under a master key (the one `master` names)."""

    master: str
    nonce: bytes
    sealed: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "master_key": self.master,
            "nonce": base64.b64encode(self.nonce).decode(),
            "sealed": base64.b64encode(self.sealed).decode(),
        }

    @classmethod
    def from_json(cls, obj: object) -> WrappedKey:
        if not isinstance(obj, dict) or obj.get("version") != 1:
            raise FormatError("a wrapped dataset key is a JSON object of version 1")
        try:
            master, nonce, sealed = str(obj["master_key"]), obj["nonce"], obj["sealed"]
            return cls(
                master, base64.b64decode(nonce, validate=True), base64.b64decode(sealed, validate=True)
            )
        except (KeyError, TypeError, ValueError):
            raise FormatError("a wrapped dataset key needs master_key, nonce and sealed (base64)") from None


def new_dataset_key() -> bytes:
    return os.urandom(KEY_SIZE)


def wrap(master: MasterKey, root: bytes, dataset_key: bytes) -> WrappedKey:
    nonce = os.urandom(12)
    return WrappedKey(
        master.keyid, nonce, AESGCM(master.secret).encrypt(nonce, dataset_key, _WRAP_AAD + root)
    )


def unwrap(master: MasterKey, root: bytes, wrapped: WrappedKey) -> bytes:
    if wrapped.master != master.keyid:
        raise UsageError(
            f"the dataset's key is wrapped by vault master key {wrapped.master}, not by this "
            f"server's ({master.keyid}): give that key, or `vault rotate` to this one"
        )
    try:
        key = AESGCM(master.secret).decrypt(wrapped.nonce, wrapped.sealed, _WRAP_AAD + root)
    except InvalidTag:
        raise TamperedError(f"the wrapped key of dataset sha256:{root.hex()} fails its check") from None
    if len(key) != KEY_SIZE:
        raise TamperedError(f"the wrapped key of dataset sha256:{root.hex()} is not {KEY_SIZE} bytes")
    return key


def rewrap(old: MasterKey, new: MasterKey, root: bytes, wrapped: WrappedKey) -> WrappedKey:
    """The dataset key under `new` instead of `old`: what `vault rotate` does to each dataset."""
    return wrap(new, root, unwrap(old, root, wrapped))


def chunk_count(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Chunks of a file of `size` bytes: an empty file is one empty chunk."""
    return max(1, -(-size // chunk_size))


def sealed_size(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The size of the blob of a file of `size` bytes."""
    return HEADER_SIZE + size + TAG_SIZE * chunk_count(size, chunk_size)


def header(salt: bytes, chunk_size: int = CHUNK_SIZE) -> bytes:
    return MAGIC + salt + struct.pack(">I", chunk_size)


def parse_header(data: bytes) -> tuple[bytes, int]:
    """The salt and chunk size of a blob's header."""
    if len(data) < HEADER_SIZE or data[: len(MAGIC)] != MAGIC:
        raise TamperedError("the blob does not start with a vault blob header")
    salt = data[len(MAGIC) : len(MAGIC) + SALT_SIZE]
    (chunk_size,) = struct.unpack(">I", data[len(MAGIC) + SALT_SIZE : HEADER_SIZE])
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise TamperedError(f"the blob's chunk size {chunk_size} is out of range")
    return salt, chunk_size


class BlobCipher:
    """The chunks of one blob: `seal` and `open` chunk `index` of file `sha256` of dataset `root`."""

    def __init__(self, dataset_key: bytes, root: bytes, sha256: bytes, salt: bytes) -> None:
        if len(salt) != SALT_SIZE:
            raise FormatError(f"a blob's salt is {SALT_SIZE} bytes")
        key = HKDF(hashes.SHA256(), KEY_SIZE, salt, _BLOB_INFO + root + sha256).derive(dataset_key)
        self._aead = AESGCM(key)
        self._aad = _CHUNK_AAD + root + sha256
        self._what = f"file sha256:{sha256.hex()} of dataset sha256:{root.hex()}"

    def _nonce_aad(self, index: int, last: bool) -> tuple[bytes, bytes]:
        if not 0 <= index < _MAX_CHUNKS:
            raise UsageError(f"chunk index {index} is out of range")
        flag = b"\x01" if last else b"\x00"
        return index.to_bytes(11, "big") + flag, self._aad + index.to_bytes(8, "big") + flag

    def seal(self, index: int, last: bool, plaintext: bytes | memoryview) -> bytes:
        nonce, aad = self._nonce_aad(index, last)
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, index: int, last: bool, sealed: bytes) -> bytes:
        nonce, aad = self._nonce_aad(index, last)
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except InvalidTag:
            raise TamperedError(
                f"chunk {index} of {self._what} fails its check: the blob was changed"
            ) from None


def new_salt() -> bytes:
    return os.urandom(SALT_SIZE)


def seal_whole(
    dataset_key: bytes, root: bytes, sha256: bytes, data: bytes, chunk_size: int = CHUNK_SIZE
) -> bytes:
    """A whole file's blob at once (a small file: it is in memory already), under a fresh salt."""
    salt = new_salt()
    cipher = BlobCipher(dataset_key, root, sha256, salt)
    view, count = memoryview(data), chunk_count(len(data), chunk_size)
    parts = [header(salt, chunk_size)]
    for i in range(count):
        parts.append(cipher.seal(i, i == count - 1, view[i * chunk_size : (i + 1) * chunk_size]))
    return b"".join(parts)


_SMALL_INFO = b"chainproof-vault-manifest-v1\0"


def seal_small(dataset_key: bytes, root: bytes, data: bytes) -> bytes:
    """A dataset's manifest, sealed whole: random 96-bit nonce || AES-256-GCM under a key derived
    from the dataset key (HKDF-SHA256, info "chainproof-vault-manifest-v1" || root), the root as
    associated data. File names and sizes stay as private as the files' bytes."""
    nonce = os.urandom(12)
    return nonce + AESGCM(_small_key(dataset_key, root)).encrypt(nonce, data, _SMALL_INFO + root)


def open_small(dataset_key: bytes, root: bytes, sealed: bytes) -> bytes:
    try:
        return AESGCM(_small_key(dataset_key, root)).decrypt(sealed[:12], sealed[12:], _SMALL_INFO + root)
    except (InvalidTag, ValueError):
        raise TamperedError(f"the sealed manifest of dataset sha256:{root.hex()} fails its check") from None


def _small_key(dataset_key: bytes, root: bytes) -> bytes:
    return HKDF(hashes.SHA256(), KEY_SIZE, None, _SMALL_INFO + root).derive(dataset_key)
