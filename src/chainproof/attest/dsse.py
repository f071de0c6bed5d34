"""DSSE envelopes (Dead Simple Signing Envelope, v1.0.x): PAE, parsing, signing and verification.

The log stores every envelope in one canonical form: RFC 8785 JSON of exactly `payloadType`,
`payload` (standard base64 with padding) and `signatures` (`keyid`, `sig`), so the same envelope
always yields the same leaf bytes whatever whitespace, key order or base64 alphabet it arrived in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chainproof.attest import keys
from chainproof.errors import FormatError, VerificationError

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_json_string = json.encoder.encode_basestring  # a JSON string, non-ASCII left as it is


class SignatureError(VerificationError):
    """A DSSE signature does not verify, or no acceptable signer signed."""


def pae(payload_type: str, payload: bytes) -> bytes:
    """Pre-Authentication Encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(t), t, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": _b64encode(self.payload),
            "signatures": [{"keyid": s.keyid, "sig": _b64encode(s.sig)} for s in self.signatures],
        }

    def canonical(self) -> bytes:
        """The RFC 8785 bytes of this envelope: what the log hashes into a leaf.

        Every value here is a string and the keys are fixed, so RFC 8785 is these members in this
        order, with each string escaped as JSON's encoder escapes it (the tests hold this against
        the `rfc8785` package). Written out directly, it costs a third of encoding a dict.
        """
        sigs = ",".join(
            [f'{{"keyid":{_json_string(s.keyid)},"sig":"{_b64encode(s.sig)}"}}' for s in self.signatures]
        )
        text = (
            f'{{"payload":"{_b64encode(self.payload)}","payloadType":{_json_string(self.payload_type)},'
            f'"signatures":[{sigs}]}}'
        )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise FormatError("the envelope holds a string that is not valid Unicode") from None

    def verify_signature(self, signature: Signature, key: Ed25519PublicKey | bytes) -> None:
        if not keys.verify(key, signature.sig, pae(self.payload_type, self.payload)):
            raise SignatureError(f"the signature by key {signature.keyid or '(no keyid)'} does not verify")


def _b64encode(data: bytes) -> str:
    """Standard base64 with padding, as the canonical form writes it."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _b64(value: object, what: str) -> bytes:
    """Decode standard or URL-safe base64, as DSSE asks verifiers to accept both."""
    if not isinstance(value, str):
        raise FormatError(f"{what} must be a base64 string")
    try:
        if "-" in value or "_" in value:
            return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_", validate=True)
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None


def from_json_obj(obj: object) -> Envelope:
    if not isinstance(obj, dict):
        raise FormatError("a DSSE envelope must be a JSON object")
    payload_type = obj.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise FormatError("the envelope has no payloadType string")
    payload = _b64(obj.get("payload"), "payload")
    raw_sigs = obj.get("signatures")
    if not isinstance(raw_sigs, list) or not raw_sigs:
        raise FormatError("the envelope has no signatures")
    sigs: list[Signature] = []
    for i, s in enumerate(raw_sigs):
        if not isinstance(s, dict):
            raise FormatError(f"signature {i} is not a JSON object")
        kid = s.get("keyid", "")
        if not isinstance(kid, str):
            raise FormatError(f"signature {i} has a keyid that is not a string")
        sigs.append(Signature(kid, _b64(s.get("sig"), f"signature {i}")))
    return Envelope(payload_type, payload, tuple(sigs))


def parse(data: bytes) -> Envelope:
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise FormatError(f"not JSON: {e}") from None
    return from_json_obj(obj)


def parse_documents(data: bytes, source: str) -> list[tuple[str, Envelope]]:
    """Envelopes from one input: a JSON envelope, a JSON array of them, or JSON Lines.

    Each comes with a label (`source` or `source:line`) for error messages.
    """
    try:
        obj = json.loads(data)
    except UnicodeDecodeError:
        raise FormatError(f"{source}: not UTF-8 text") from None
    except ValueError:  # not one JSON value: JSON Lines, perhaps
        obj = None
    if isinstance(obj, list):
        return [(f"{source}[{i}]", _labelled(f"{source}[{i}]", o)) for i, o in enumerate(obj)]
    if obj is not None:
        return [(source, _labelled(source, obj))]
    found: list[tuple[str, Envelope]] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip():
            label = f"{source}:{number}"
            try:
                found.append((label, _labelled(label, json.loads(line))))
            except ValueError as e:
                raise FormatError(f"{label}: not JSON ({e})") from None
    if not found:
        raise FormatError(f"{source}: no envelope in the input")
    return found


def _labelled(label: str, obj: object) -> Envelope:
    try:
        return from_json_obj(obj)
    except FormatError as e:
        raise FormatError(f"{label}: {e}") from None


def sign(payload_type: str, payload: bytes, key: Ed25519PrivateKey, keyid: str) -> Envelope:
    return Envelope(payload_type, payload, (Signature(keyid, key.sign(pae(payload_type, payload))),))
