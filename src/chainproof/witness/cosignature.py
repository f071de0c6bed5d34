"""C2SP tlog-cosignature v1 (Ed25519): a witness's timestamped signature of a checkpoint.

A cosignature is a signed-note signature line, `— <name> base64(key hash || timestamp ||
signature)`, where the key hash is the first four bytes of SHA-256(name || "\\n" || 0x04 ||
public key), the timestamp is eight bytes big-endian (POSIX seconds, below 2**63), and the
Ed25519 signature covers `"cosignature/v1\\ntime <timestamp>\\n"` followed by the checkpoint's
whole body. A cosigner's verifier key (vkey) is `<name>+<hex key hash>+base64(0x04 || public
key)`. The type byte differs from a log's (0x01), so a log key can never pass for a witness's,
nor the reverse; the name is not signed, so one key must serve one name only.

Pure functions and values: no I/O.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chainproof.attest import keys
from chainproof.errors import FormatError, VerificationError
from chainproof.log.note import b64decode_strict, valid_name

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1"
_DASH = "\u2014 "
_TIMESTAMP_LIMIT = 1 << 63
_BLOB_SIZE = 4 + 8 + 64
MAX_LINES = 100  # as `log.note` reads notes


class CosignatureError(VerificationError):
    """A cosignature is malformed, or does not verify under the witness key it names."""


def cosigner_key_hash(name: str, public_raw: bytes) -> bytes:
    """The four-byte key ID of an Ed25519 cosigner: SHA-256(name || 0x0A || 0x04 || key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_raw).digest()[
        :4
    ]


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosignature signs: the header line, the time line, then the checkpoint body."""
    _check_timestamp(timestamp)
    if not body.endswith("\n"):
        raise FormatError("a checkpoint body must end with a newline")
    return f"{HEADER}\ntime {timestamp}\n{body}".encode()


def _check_timestamp(timestamp: int) -> None:
    if not 0 <= timestamp < _TIMESTAMP_LIMIT:
        raise FormatError(f"a cosignature timestamp must be in [0, 2**63): {timestamp}")


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public identity: its name and Ed25519 key (a vkey of type 0x04)."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def key_hash(self) -> bytes:
        return cosigner_key_hash(self.name, keys.public_raw(self.public_key))

    @property
    def vkey(self) -> str:
        raw = bytes([ALG_COSIGNATURE_V1]) + keys.public_raw(self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(raw).decode('ascii')}"

    def verify(self, cosig: Cosignature, body: str) -> None:
        """Raise CosignatureError unless `cosig` is this witness's valid cosignature of `body`."""
        if cosig.name != self.name or cosig.key_hash != self.key_hash:
            raise CosignatureError(f"the cosignature is by {cosig.name}, not by {self.vkey}")
        if not keys.verify(self.public_key, cosig.signature, signed_message(body, cosig.timestamp)):
            raise CosignatureError(f"the cosignature by {self.name} does not verify")


def parse_cosigner_vkey(vkey: str) -> CosignatureVerifier:
    """A witness's verifier key, `NAME+HASH+BASE64(0x04 || key)`; FormatError when it is not one."""
    name, plus1, rest = vkey.strip().partition("+")
    hash_hex, plus2, b64 = rest.partition("+")
    if not (plus1 and plus2):
        raise FormatError("a witness verifier key is NAME+HASH+BASE64")
    if not valid_name(name):
        raise FormatError(f"the witness key's name {name[:60]!r} must be non-empty, without spaces or '+'")
    raw = b64decode_strict(b64, "the witness verifier key")
    if len(raw) != 1 + keys.PUBLIC_KEY_SIZE or raw[0] != ALG_COSIGNATURE_V1:
        raise FormatError(
            "the witness verifier key is not an Ed25519 cosignature/v1 (type 0x04) key"
            + (" (type 0x01 is a log's key)" if raw[:1] == b"\x01" else "")
        )
    verifier = CosignatureVerifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if len(hash_hex) != 8 or verifier.key_hash.hex() != hash_hex.lower():
        raise FormatError("the witness verifier key's hash does not match its name and key")
    return verifier


def default_name(public_key: Ed25519PublicKey) -> str:
    """A witness's name when none is chosen: `witness-` and 12 hex digits of SHA-256(public key),
    the same for the same key every time."""
    return "witness-" + hashlib.sha256(keys.public_raw(public_key)).hexdigest()[:12]


@dataclass(frozen=True)
class CosignatureSigner:
    """A witness's signing identity: its name and private key."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        if not valid_name(self.name):
            raise FormatError(f"a witness name {self.name[:60]!r} must be non-empty, without spaces or '+'")

    @property
    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.private_key.public_key())

    def cosign(self, body: str, timestamp: int) -> Cosignature:
        """This witness's cosignature of the checkpoint `body` at `timestamp` (POSIX seconds)."""
        signature = keys.sign(self.private_key, signed_message(body, timestamp))
        return Cosignature(self.name, self.verifier.key_hash, timestamp, signature)


@dataclass(frozen=True)
class Cosignature:
    name: str
    key_hash: bytes
    timestamp: int
    signature: bytes

    def blob(self) -> bytes:
        return self.key_hash + self.timestamp.to_bytes(8, "big") + self.signature

    def line(self) -> str:
        """The signature line, newline included, as it is appended to a note."""
        return f"{_DASH}{self.name} {base64.b64encode(self.blob()).decode('ascii')}\n"


def from_blob(name: str, blob: bytes) -> Cosignature:
    """A cosignature from a signature line's name and decoded bytes; FormatError unless it is
    key hash (4) || timestamp (8, below 2**63) || Ed25519 signature (64)."""
    if len(blob) != _BLOB_SIZE:
        raise FormatError(f"a cosignature is {_BLOB_SIZE} bytes, not {len(blob)}")
    timestamp = int.from_bytes(blob[4:12], "big")
    if timestamp >= _TIMESTAMP_LIMIT:
        raise FormatError("a cosignature timestamp must be below 2**63")
    return Cosignature(name, blob[:4], timestamp, blob[12:])


@dataclass(frozen=True)
class SignatureLine:
    """A signed-note signature line, parsed: its key name and decoded bytes (of any key type)."""

    name: str
    blob: bytes
    text: str

    @property
    def key_hash(self) -> bytes:
        return self.blob[:4]


def parse_line(line: str) -> SignatureLine:
    """One signature line, without its newline: `— <name> <base64>`."""
    if not line.startswith(_DASH):
        raise FormatError(f"malformed signature line {line[:120]!r}")
    name, space, b64 = line[len(_DASH) :].partition(" ")
    if not space or not valid_name(name):
        raise FormatError(f"malformed signature line {line[:120]!r}")
    blob = b64decode_strict(b64, "a note signature")
    if len(blob) < 5:
        raise FormatError("a note signature is too short")
    return SignatureLine(name, blob, line + "\n")


def split_note(text: str) -> tuple[str, list[SignatureLine]]:
    """A signed note's body (with its final newline) and its signature lines, all well formed
    and at most `MAX_LINES` of them (each may cost a signature check)."""
    body, sep, block = text.rpartition("\n\n")
    if not sep or not block.endswith("\n"):
        raise FormatError("the note has no signature block")
    return body + "\n", parse_lines(block)


def parse_lines(text: str) -> list[SignatureLine]:
    """Signature lines, each ending in a newline (a tlog-witness answer)."""
    if not text.endswith("\n"):
        raise FormatError("signature lines must each end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > MAX_LINES:
        raise FormatError(f"a note carries at most {MAX_LINES} signatures")
    return [parse_line(line) for line in lines]


def cosignatures_by(
    lines: Iterable[SignatureLine], body: str, verifiers: Sequence[CosignatureVerifier]
) -> list[tuple[CosignatureVerifier, Cosignature]]:
    """The valid cosignatures of `body` among `lines` by the given witnesses, each witness's latest
    only. Lines by other keys are ignored (as signed-note verifiers must); a line that names a
    given witness's key but is malformed or does not verify raises CosignatureError."""
    wanted = {(v.name, v.key_hash): v for v in verifiers}
    found: dict[str, tuple[CosignatureVerifier, Cosignature]] = {}
    for line in lines:
        verifier = wanted.get((line.name, line.key_hash))
        if verifier is None:
            continue
        try:
            cosig = from_blob(line.name, line.blob)
        except FormatError as e:
            raise CosignatureError(f"the cosignature by {line.name} is malformed: {e}") from None
        verifier.verify(cosig, body)
        kept = found.get(verifier.vkey)
        if kept is None or cosig.timestamp > kept[1].timestamp:
            found[verifier.vkey] = (verifier, cosig)
    return list(found.values())


def with_lines(note: str, lines: Iterable[str]) -> str:
    """`note` with the signature `lines` appended, leaving out those it carries already."""
    have = set(note.rstrip("\n").rpartition("\n\n")[2].split("\n"))
    extra = [line for line in lines if line.rstrip("\n") not in have]
    return note + "".join(line if line.endswith("\n") else line + "\n" for line in extra)
