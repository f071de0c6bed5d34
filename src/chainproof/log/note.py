"""C2SP signed-note (Ed25519) and tlog-checkpoint: the signed statement of a log's size and root.

Byte-compatible with Go's golang.org/x/mod/sumdb/note: a verifier key is
`<name>+<hex key hash>+<base64(0x01 || public key)>`, where the key hash is the first four bytes
of SHA-256(name || "\\n" || 0x01 || public key), and each signature line is
`— <name> <base64(key hash || signature)>`, signing the note text up to and including the
newline that ends it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chainproof.attest import keys
from chainproof.errors import FormatError, VerificationError
from chainproof.log import merkle

ALG_ED25519 = 0x01
_DASH = "\u2014 "
_MAX_SIGNATURES = 100


class NoteError(VerificationError):
    """A signed note is malformed, or carries no valid signature by the expected key."""


def b64decode_strict(text: str, what: str) -> bytes:
    """Standard base64 that must round-trip exactly, so that no two texts decode alike."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise FormatError(f"{what} is not in canonical base64")
    return raw


def valid_name(name: str) -> bool:
    """Whether `name` can name a note key (a log's origin): non-empty, no spaces, no '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _check_name(name: str, what: str = "note key name") -> None:
    if not valid_name(name):
        raise FormatError(f"{what} {name!r} must be non-empty, without spaces or '+'")


def key_hash(name: str, public_raw: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_raw).digest()[:4]


@dataclass(frozen=True)
class NoteVerifier:
    name: str
    public_key: Ed25519PublicKey

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, keys.public_raw(self.public_key))

    @property
    def vkey(self) -> str:
        raw = bytes([ALG_ED25519]) + keys.public_raw(self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(raw).decode('ascii')}"


def parse_vkey(vkey: str) -> NoteVerifier:
    name, plus1, rest = vkey.partition("+")
    hash_hex, plus2, b64 = rest.partition("+")
    if not (plus1 and plus2):
        raise FormatError("a verifier key is NAME+HASH+BASE64")
    _check_name(name, "the verifier key's name")
    raw = b64decode_strict(b64.strip(), "the verifier key")
    if len(raw) != 1 + keys.PUBLIC_KEY_SIZE or raw[0] != ALG_ED25519:
        raise FormatError("the verifier key is not an Ed25519 (type 0x01) key")
    verifier = NoteVerifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_hash.hex() != hash_hex.lower():
        raise FormatError("the verifier key's hash does not match its name and key")
    return verifier


@dataclass(frozen=True)
class NoteSigner:
    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        _check_name(self.name)

    @property
    def verifier(self) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key())

    def sign(self, body: str) -> str:
        """Return the signed note: body, a blank line, and one signature line."""
        _check_body(body)
        sig = self.private_key.sign(body.encode("utf-8"))
        blob = base64.b64encode(self.verifier.key_hash + sig).decode("ascii")
        return f"{body}\n{_DASH}{self.name} {blob}\n"


def _check_body(body: str) -> None:
    if not body.endswith("\n"):
        raise FormatError("a note body must end with a newline")
    if _has_controls(body):
        raise FormatError("a note body must not contain control characters")


def _has_controls(text: str) -> bool:
    return any(ord(c) < 0x20 and c != "\n" for c in text)


def open_note(text: str, verifier: NoteVerifier) -> str:
    """Return the body of `text` when a signature by `verifier` verifies; raise NoteError otherwise.

    Signatures by other keys are ignored, as signed-note verifiers must do, but every signature
    line must be well formed. Every signature by `verifier`'s key must verify: the spec says a
    client should reject a note when any of them fails (Go's x/mod checks only the first).
    """
    body, sep, block = text.rpartition("\n\n")
    if not sep:
        raise NoteError("the note has no signature block (no blank line)")
    body += "\n"
    _check_body(body)
    if not block.endswith("\n"):
        raise NoteError("the note's signature block must end with a newline")
    if _has_controls(block):
        raise NoteError("a note must not contain control characters")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise NoteError(f"the note has more than {_MAX_SIGNATURES} signatures")
    found = False
    for line in lines:
        if not line.startswith(_DASH):
            raise NoteError(f"malformed signature line {line[:120]!r}")
        name, space, b64 = line[len(_DASH) :].partition(" ")
        if not space or not valid_name(name):
            raise NoteError(f"malformed signature line {line[:120]!r}")
        try:
            blob = b64decode_strict(b64, "a note signature")
        except FormatError as e:
            raise NoteError(str(e)) from None
        if len(blob) < 5:
            raise NoteError("a note signature is too short")
        if name != verifier.name or blob[:4] != verifier.key_hash:
            continue
        if not keys.verify(verifier.public_key, blob[4:], body.encode("utf-8")):
            raise NoteError(f"the signature by {name} does not verify")
        found = True
    if not found:
        raise NoteError(f"the note carries no signature by {verifier.name}")
    return body


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, and extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise FormatError("a checkpoint has an origin, a size and a root hash, each on its own line")
    origin, size, root_b64, *extensions = lines[:-1]
    if not origin:
        raise FormatError("the checkpoint origin is empty")
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise FormatError(f"the checkpoint size {size[:30]!r} is not a decimal number")
    if len(size) > merkle.SIZE_DIGITS or int(size) >= merkle.SIZE_LIMIT:
        raise FormatError(f"the checkpoint size {size[:30]!r} is not below 2**64")
    root = b64decode_strict(root_b64, "the checkpoint root hash")
    if len(root) != 32:
        raise FormatError(f"the checkpoint root hash is {len(root)} bytes, not 32")
    if any(not line for line in extensions):
        raise FormatError("a checkpoint extension line is empty")
    return Checkpoint(origin, int(size), root, tuple(extensions))


def verify_checkpoint(text: str, verifier: NoteVerifier) -> Checkpoint:
    return parse_checkpoint(open_note(text, verifier))
