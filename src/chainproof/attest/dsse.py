"""DSSE envelopes (Dead Simple Signing Envelope, v1.0.x): PAE, parsing, signing and verification.

The log stores every envelope in one canonical form: RFC 8785 JSON of exactly `payloadType`,
`payload` (standard base64 with padding) and `signatures` (`keyid`, `sig`), so the same envelope
always yields the same leaf bytes whatever whitespace, key order or base64 alphabet it arrived in.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chainproof._internal import untrusted_json
from chainproof._internal.config import MAX_ENTRY_BYTES_ENV
from chainproof.attest import keys
from chainproof.errors import FormatError, VerificationError

if TYPE_CHECKING:
    from chainproof._internal.crypto_worker import Pending
    from chainproof._internal.threads import Started
    from chainproof.attest.statement import Statement

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
    statement: Statement | None = field(default=None, init=False, compare=False, repr=False)
    """The statement `payload` was written from, when its signer kept it (`with_statement`).
    Never read from the wire, and dropped by `replace`: it only ever describes this payload."""

    def with_statement(self, statement: Statement) -> Envelope:
        """This envelope carrying `statement`, whose canonical form its payload is, so that a
        log admitting it in this process need not parse the payload back. Only for statements
        that read back as themselves (`statement.parse(payload) == statement`): the custody
        records' statements do, and their tests hold them to it."""
        kept = Envelope(self.payload_type, self.payload, self.signatures)  # `replace` costs twice this
        object.__setattr__(kept, "statement", statement)
        return kept

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
        return self._canonical(_b64encode(self.payload))

    def _canonical(self, payload: str) -> bytes:
        """The canonical form around `payload`, the payload's base64 text."""
        sigs = ",".join(
            [f'{{"keyid":{_json_string(s.keyid)},"sig":"{_b64encode(s.sig)}"}}' for s in self.signatures]
        )
        text = (
            f'{{"payload":"{payload}","payloadType":{_json_string(self.payload_type)},"signatures":[{sigs}]}}'
        )
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            raise FormatError("the envelope holds a string that is not valid Unicode") from None

    def canonical_size(self) -> int:
        """len(self.canonical()), without encoding the payload: to refuse a large one cheaply."""
        return len(self._canonical("")) + 4 * ((len(self.payload) + 2) // 3)

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


def too_large(size: int, limit: int) -> str:
    """The message for an entry of `size` bytes past the `limit` a log takes."""
    return f"the envelope is {size:,} bytes; {_the_limit(limit)}"


def _the_limit(limit: int) -> str:
    return f"the log takes entries of at most {limit:,} bytes ({MAX_ENTRY_BYTES_ENV} sets that)"


def from_json_obj(obj: object, max_bytes: int | None = None) -> Envelope:
    """The envelope in a parsed JSON value; with `max_bytes`, refused before its payload is
    decoded when its canonical form would be larger."""
    if not isinstance(obj, dict):
        raise FormatError("a DSSE envelope must be a JSON object")
    payload_type = obj.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise FormatError("the envelope has no payloadType string")
    encoded = obj.get("payload")
    if max_bytes is not None and isinstance(encoded, str) and len(encoded) > max_bytes:
        raise FormatError(too_large(len(encoded), max_bytes))
    payload = _b64(encoded, "payload")
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
        obj = untrusted_json.loads(data)
    except untrusted_json.JsonInputError as e:
        raise FormatError(str(e)) from None
    except ValueError as e:
        raise FormatError(f"not JSON: {e}") from None
    return from_json_obj(obj)


def parse_documents(data: bytes, source: str, max_bytes: int | None = None) -> list[tuple[str, Envelope]]:
    """Envelopes from one input: a JSON envelope, a JSON array of them, or JSON Lines.

    Each comes with a label (`source` or `source:line`) for error messages. With `max_bytes`, an
    envelope larger than that in canonical form is refused, before its payload is decoded.
    """
    try:
        obj = untrusted_json.loads(data)
    except UnicodeDecodeError:
        raise FormatError(f"{source}: not UTF-8 text") from None
    except untrusted_json.JsonInputError as e:
        raise FormatError(f"{source}: {e}") from None
    except ValueError:  # not one JSON value: JSON Lines, perhaps
        obj = None
    if isinstance(obj, list):
        return [(f"{source}[{i}]", _labelled(f"{source}[{i}]", o, max_bytes)) for i, o in enumerate(obj)]
    if obj is not None:
        return [(source, _labelled(source, obj, max_bytes))]
    found = [_line(f"{source}:{number}", line, max_bytes) for number, line in enumerate(data.split(b"\n"), 1)]
    envelopes = [pair for pair in found if pair is not None]
    if not envelopes:
        raise FormatError(f"{source}: no envelope in the input")
    return envelopes


def _line(label: str, line: bytes, max_bytes: int | None) -> tuple[str, Envelope] | None:
    """The envelope on one line of JSON Lines, None for a blank line."""
    if not line.strip():
        return None
    try:
        obj = untrusted_json.loads(line)
    except untrusted_json.JsonInputError as e:
        raise FormatError(f"{label}: {e}") from None
    except ValueError as e:
        raise _NotJson(f"{label}: not JSON ({e})") from None
    return label, _labelled(label, obj, max_bytes)


class _NotJson(FormatError):
    """A line of JSON Lines that is not JSON at all."""


def _labelled(label: str, obj: object, max_bytes: int | None = None) -> Envelope:
    try:
        env = from_json_obj(obj, max_bytes)
    except FormatError as e:
        raise FormatError(f"{label}: {e}") from None
    if max_bytes is not None and (size := env.canonical_size()) > max_bytes:
        raise FormatError(f"{label}: {too_large(size, max_bytes)}")
    return env


def text_bound(max_bytes: int) -> int:
    """The most text one envelope may take in an input, for an entry of at most `max_bytes`: room
    for whitespace, escapes and indentation that its canonical form drops."""
    return max_bytes + max_bytes // 16 + (64 << 10)


def read_documents(stream: BinaryIO, source: str, max_bytes: int) -> list[tuple[str, Envelope]]:
    """`parse_documents` of what `stream` holds, never holding more text for one envelope than
    `text_bound(max_bytes)`: an input up to that size is read whole (one envelope, an array or
    JSON Lines); a larger one can only be JSON Lines, and is read a line at a time."""
    bound = text_bound(max_bytes)
    head = stream.read(bound + 1)
    if len(head) <= bound:
        return parse_documents(head, source, max_bytes)
    found: list[tuple[str, Envelope]] = []
    for number, line in enumerate(_bounded_lines(head, stream, bound), start=1):
        label = f"{source}:{number}"
        if line is None:
            raise FormatError(
                f"{label}: more than {bound:,} bytes on one line; {_the_limit(max_bytes)}, and an "
                "input larger than one envelope may be must be JSON Lines"
            )
        try:
            pair = _line(label, line, max_bytes)
        except _NotJson:
            if number > 1:
                raise
            raise FormatError(
                f"{source}: more than {bound:,} bytes, and not JSON Lines; {_the_limit(max_bytes)}, "
                "and an input larger than one envelope may be must be JSON Lines"
            ) from None
        if pair is not None:
            found.append(pair)
    if not found:
        raise FormatError(f"{source}: no envelope in the input")
    return found


def _bounded_lines(head: bytes, rest: BinaryIO, bound: int) -> Iterator[bytes | None]:
    """The lines of `head` followed by `rest`, without their line feeds; None for a line longer
    than `bound` (after which there are no more)."""
    *complete, pending = head.split(b"\n")
    for line in complete:
        if len(line) > bound:
            yield None
            return
        yield line
    while True:
        if len(pending) > bound:
            yield None
            return
        more = rest.readline(bound + 1 - len(pending))
        if not more:
            if pending:
                yield pending
            return
        pending += more
        if pending.endswith(b"\n"):
            yield pending[:-1]
            pending = b""


def sign(payload_type: str, payload: bytes, key: Ed25519PrivateKey, keyid: str) -> Envelope:
    return Envelope(payload_type, payload, (Signature(keyid, keys.sign(key, pae(payload_type, payload))),))


def sign_many(
    payload_type: str, payloads: Sequence[bytes], key: Ed25519PrivateKey, keyid: str
) -> list[Envelope]:
    """`sign` over a batch, the signatures made beside the caller (`Signing`)."""
    signing = Signing(payload_type, key, keyid)
    signing.add(payloads)
    return signing.envelopes()


class Signing:
    """`sign` over payloads that come in lots: each lot's signatures are made while the caller
    writes the next (`keys.start_sign_many`), and `envelopes` gives them all, in order."""

    def __init__(self, payload_type: str, key: Ed25519PrivateKey, keyid: str) -> None:
        self._type, self._key, self._keyid = payload_type, key, keyid
        self._lots: list[tuple[Sequence[bytes], Started[bytes] | Pending[list[bytes]]]] = []

    def add(self, payloads: Sequence[bytes]) -> None:
        messages = [pae(self._type, p) for p in payloads]
        self._lots.append((payloads, keys.start_sign_many(self._key, messages)))

    def envelopes(self) -> list[Envelope]:
        return [
            Envelope(self._type, p, (Signature(self._keyid, sig),))
            for payloads, started in self._lots
            for p, sig in zip(payloads, started.result(), strict=True)
        ]
