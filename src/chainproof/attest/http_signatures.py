"""HTTP request signatures: RFC 9421 message signatures (Ed25519) over an RFC 9530 Content-Digest.

A client signs every request to a chainproof server with its registered Ed25519 key; the server
checks the signature before it looks at the request. The signature (label `chainproof`) covers
the method, the full target URI and the Content-Digest (SHA-256 of the body), with the
parameters `created`, `keyid` (`keys.keyid` of the public key), `alg="ed25519"` and a random
`nonce`, so a signed request cannot be sent to another URL, carry another body, or be replayed
once its nonce is remembered (`chainproof.server.nonces`).

The signature base is built and checked by `http_message_signatures`, a maintained RFC 9421
implementation; this module only decides the policy (what must be covered, which key, which
clock) and turns every refusal into a `SignatureRejected` with a stable code.

A client with an `httpx.Request` signs it with
`request.headers.update(sign_request(request.method, str(request.url), request.headers,
request.content, key))`; a server passes the method, the URL string it reconstructs, the
headers and the body bytes to `verify_request`. The URL must be the same string on both sides:
the server should rebuild it from the raw (still percent-encoded) path and query it received.
"""

from __future__ import annotations

import datetime
import math
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal, cast

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from chainproof.attest import keys
from chainproof.errors import UsageError, VerificationError

LABEL = "chainproof"
COVERED = ("@method", "@target-uri", "content-digest")
DEFAULT_WINDOW = 300
ALGORITHM = "ed25519"

# Longest key id or nonce accepted: ours are 64 and 22 characters; the bound keeps what an
# attacker can make the nonce store hold per request small.
MAX_PARAMETER_LENGTH = 256

RejectCode = Literal[
    "unsigned",
    "bad-signature-input",
    "bad-content-digest",
    "unknown-key",
    "bad-signature",
    "expired",
    "not-yet-valid",
    "replayed",
]

_REQUIRED_PARAMETERS = frozenset({"created", "keyid", "nonce", "alg"})
# RFC 9421 section 2.3; `expires` is honoured, `tag` is allowed and ignored.
_KNOWN_PARAMETERS = _REQUIRED_PARAMETERS | {"expires", "tag"}
_SIGNATURE_FIELDS = frozenset({"signature-input", "signature"})


class SignatureRejected(VerificationError):
    """A request's HTTP signature was refused: `code` is stable for machines, the message (one
    line) says why to a person."""

    def __init__(self, code: RejectCode, message: str) -> None:
        super().__init__(message)
        self.code: RejectCode = code


@dataclass(frozen=True)
class Verified:
    """What a verified signature vouches for: who signed, when, and the nonce to remember."""

    keyid: str
    created: int
    nonce: str


@dataclass(frozen=True)
class _Parameters:
    keyid: str
    created: int
    nonce: str
    expires: int | None


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    key: Ed25519PrivateKey,
    *,
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers to add to the request: Content-Digest (sha-256, RFC 9530), Signature-Input and
    Signature (label `LABEL`, covering `COVERED`).

    The key id is `keys.keyid(key.public_key())`; `nonce` defaults to 128 random bits in
    base64url. `url` is the absolute, percent-encoded URL exactly as it will be sent (httpx's
    `str(request.url)`). A Content-Digest already in `headers` is replaced: the digest always
    describes `body`. Raises `UsageError` for a URL or nonce that cannot be signed."""
    keyid = keys.keyid(key.public_key())
    nonce = secrets.token_urlsafe(16) if nonce is None else nonce
    if not _is_parameter_text(nonce):
        raise UsageError(f"a request nonce must be 1 to {MAX_PARAMETER_LENGTH} printable ASCII characters")
    created = int(time.time() if now is None else now)
    # Only the covered fields matter, but keep the rest so that the message is the request.
    kept = [(n, v) for n, v in headers.items() if n.lower() not in _SIGNATURE_FIELDS | {"content-digest"}]
    message = _Message(method.upper(), url, _FieldLines(kept))
    signer = HTTPMessageSigner(
        signature_algorithm=_Ed25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={keyid: key}),
    )
    try:
        signer.sign(
            message,
            key_id=keyid,
            created=datetime.datetime.fromtimestamp(created, tz=datetime.UTC),
            nonce=nonce,
            label=LABEL,
            covered_component_ids=COVERED,
            body=body,
        )
    except (HTTPMessageSignaturesException, ValueError) as e:
        raise UsageError(f"cannot sign the request to {url!r}: {_one_line(str(e))}") from None
    fields = message.headers
    return {name: fields.value(name) or "" for name in ("Content-Digest", "Signature-Input", "Signature")}


def verify_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    public_key: Callable[[str], Ed25519PublicKey | None],
    *,
    now: float | None = None,
    window: int = DEFAULT_WINDOW,
) -> Verified:
    """Check the request's `LABEL` signature; raise `SignatureRejected` for anything less.

    In this order: the signature is there ("unsigned" when neither Signature-Input nor Signature
    is); it covers at least `COVERED` with `created`, `keyid`, `nonce` and `alg="ed25519"`
    ("bad-signature-input"); Content-Digest names sha-256 or sha-512 and matches `body`
    ("bad-content-digest"); `public_key(keyid)` knows the key ("unknown-key"); the signature
    verifies ("bad-signature"); `created` is within `now` ± `window` and any `expires` is not past
    ("expired", "not-yet-valid"). Replays are the caller's to refuse: pass the result's nonce to
    a `NonceStore` once this returns."""
    fields = _FieldLines(headers.items())
    members = _signature_members(fields)
    parameters = _parameters(members.signature_input)
    _check_content_digest(fields, body)
    key = public_key(parameters.keyid)
    if key is None:
        unknown = _one_line(parameters.keyid, 70)
        raise SignatureRejected("unknown-key", f"the request is signed by an unknown key {unknown!r}")
    _check_signature(_Message(method, url, fields), members, keyid=parameters.keyid, key=key)
    _check_time(parameters, time.time() if now is None else now, window)
    return Verified(parameters.keyid, parameters.created, parameters.nonce)


@dataclass(frozen=True)
class _Members:
    """The member of Signature-Input (an inner list and its parameters) and of Signature (bytes)
    labelled `LABEL`; `alone` when neither field has another."""

    signature_input: tuple[list[object], dict[str, object]]
    signature: bytes
    alone: bool


def _signature_members(fields: _FieldLines) -> _Members:
    """The `LABEL` members of Signature-Input and Signature, structurally checked."""
    signature_input, signature = fields.value("signature-input"), fields.value("signature")
    if signature_input is None and signature is None:
        raise SignatureRejected("unsigned", "the request is not signed (no Signature-Input or Signature)")
    if signature_input is None or signature is None:
        missing = "Signature-Input" if signature_input is None else "Signature"
        raise SignatureRejected("bad-signature-input", f"the request is signed but has no {missing} header")
    inputs = _dictionary(signature_input, "Signature-Input")
    signatures = _dictionary(signature, "Signature")
    if LABEL not in inputs or LABEL not in signatures:
        raise SignatureRejected("bad-signature-input", f"the request has no signature labelled {LABEL!r}")
    member, sig = inputs[LABEL], signatures[LABEL]
    if not (isinstance(member, tuple) and isinstance(member[0], list)):
        raise SignatureRejected("bad-signature-input", "Signature-Input is not a list of covered components")
    if not (isinstance(sig, tuple) and isinstance(sig[0], bytes)):
        raise SignatureRejected("bad-signature-input", "Signature is not a byte sequence")
    return _Members((member[0], member[1]), sig[0], alone=len(inputs) == 1 and len(signatures) == 1)


def _dictionary(value: str, name: str) -> dict[str, object]:
    """`value` parsed as an RFC 8941 dictionary; a repeated key anywhere is refused, since two
    parsers may keep different ones."""

    def refuse_duplicate(key: str, context: str) -> None:
        raise ValueError(f"repeated {context} key {key!r}")

    try:
        parsed = http_sf.parse(value.encode("ascii"), tltype="dictionary", on_duplicate_key=refuse_duplicate)
    except ValueError as e:  # StructuredFieldError and UnicodeEncodeError are ValueErrors
        raise SignatureRejected("bad-signature-input", f"{name} is malformed: {_one_line(str(e))}") from None
    if not isinstance(parsed, dict):  # pragma: no cover - a dictionary parse gives a dict
        raise SignatureRejected("bad-signature-input", f"{name} is not a dictionary")
    return dict(parsed)


def _parameters(signature_input: tuple[list[object], dict[str, object]]) -> _Parameters:
    """The signature's parameters, once it covers at least `COVERED` with the ones we need."""
    components, params = signature_input
    covered = {c[0] for c in components if isinstance(c, tuple) and type(c[0]) is str and not c[1]}
    missing = [c for c in COVERED if c not in covered]
    if missing:
        raise SignatureRejected("bad-signature-input", f"the signature does not cover {', '.join(missing)}")
    unknown = sorted(set(params) - _KNOWN_PARAMETERS)
    if unknown:
        name = _one_line(unknown[0], 40)
        raise SignatureRejected("bad-signature-input", f"unknown signature parameter {name!r}")
    absent = sorted(_REQUIRED_PARAMETERS - set(params))
    if absent:
        raise SignatureRejected("bad-signature-input", f"the signature has no {absent[0]!r} parameter")
    if params["alg"] != ALGORITHM or type(params["alg"]) is not str:
        raise SignatureRejected("bad-signature-input", f'the signature\'s alg is not "{ALGORITHM}"')
    created, expires = params["created"], params.get("expires")
    if type(created) is not int or (expires is not None and type(expires) is not int):
        raise SignatureRejected("bad-signature-input", "the signature's created or expires is not an integer")
    keyid, nonce = params["keyid"], params["nonce"]
    if not (isinstance(keyid, str) and _is_parameter_text(keyid)):
        raise SignatureRejected("bad-signature-input", "the signature's keyid is not a short string")
    if not (isinstance(nonce, str) and _is_parameter_text(nonce)):
        raise SignatureRejected("bad-signature-input", "the signature's nonce is not a short string")
    return _Parameters(keyid, created, nonce, expires)


def _is_parameter_text(text: str) -> bool:
    # A Structured Field String is printable ASCII already; a Token (a UserString) is refused.
    if type(text) is not str or not 0 < len(text) <= MAX_PARAMETER_LENGTH:
        return False
    return text.isascii() and text.isprintable()


def _check_content_digest(fields: _FieldLines, body: bytes) -> None:
    """Content-Digest is there and every digest it carries (sha-256 or sha-512) matches `body`."""
    value = fields.value("content-digest")
    if value is None:
        raise SignatureRejected("bad-content-digest", "the request has no Content-Digest header")
    try:
        ContentDigest.verify(value, body)
    except (HTTPMessageSignaturesException, ValueError) as e:
        raise SignatureRejected("bad-content-digest", f"Content-Digest: {_one_line(str(e))}") from None


def _check_signature(request: _Message, members: _Members, *, keyid: str, key: Ed25519PublicKey) -> None:
    """The library rebuilds the signature base and checks the signature with `key`.

    It sees only our signature: other labels (a proxy's, say) would make it ask which to check.
    It is not given the body: the Content-Digest the signature covers was checked against it
    already. Times are checked afterwards, against the caller's clock (`_Verifier`)."""
    request = _Message(request.method, request.url, _covered_fields(request.headers, members))
    verifier = _Verifier(
        signature_algorithm=_Ed25519,
        key_resolver=MappingKeyResolver(public_keys={keyid: key}, private_keys={}),
    )
    try:
        verifier.verify(request, max_age=None, require_components=COVERED, body=None)
    except HTTPMessageSignaturesException as e:
        reason = _one_line(str(e))
        raise SignatureRejected("bad-signature", f"the signature does not verify: {reason}") from None


def _covered_fields(headers: _FieldLines, members: _Members) -> _FieldLines:
    """The field lines the library needs: those the signature covers, and `LABEL`'s members of
    Signature-Input and Signature (alone: another label, a proxy's say, would make it ask which
    signature to check). The rest it would parse for nothing."""
    components, _ = members.signature_input
    covered = {c[0].lower() for c in components if isinstance(c, tuple) and type(c[0]) is str}
    kept = [(n, v) for n, v in headers.items() if n.lower() in covered]
    if members.alone:
        kept += [(n, v) for n, v in headers.items() if n.lower() in _SIGNATURE_FIELDS]
    else:
        signature_input = cast(http_sf.DictionaryType, {LABEL: members.signature_input})
        kept.append(("Signature-Input", http_sf.ser(signature_input)))
        kept.append(("Signature", http_sf.ser({LABEL: (members.signature, {})})))
    return _FieldLines(kept)


def _check_time(parameters: _Parameters, now: float, window: int) -> None:
    # `created` is in whole seconds, truncated by the signer: compare it with whole seconds too.
    # The nonce stores forget entries by the same rule, so a forgotten nonce is always expired.
    now = math.floor(now)
    if parameters.created < now - window:
        raise SignatureRejected("expired", f"the signature was made more than {window} s ago")
    if parameters.created > now + window:
        raise SignatureRejected("not-yet-valid", f"the signature was made more than {window} s from now")
    if parameters.expires is not None and parameters.expires < now:
        raise SignatureRejected("expired", "the signature's expires time has passed")


def _one_line(text: str, limit: int = 160) -> str:
    """`text` (which may echo an attacker's header) as one short printable line."""
    clean = "".join(c if c.isascii() and c.isprintable() else "?" for c in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


class _Ed25519(algorithms.ED25519):
    """The library's Ed25519 (algorithm id, key type checks) with chainproof's own Ed25519
    (`keys`): byte for byte the same signatures, and the verification every other signature in
    chainproof gets (libsodium's, which refuses non-canonical signatures and small-order keys)."""

    def sign(self, message: bytes) -> bytes:
        return keys.sign(self.private_key, message)

    def verify(self, signature: bytes, message: bytes) -> None:
        if not keys.verify(self.public_key, signature, message):
            raise InvalidSignature("the Ed25519 signature does not verify")


class _Verifier(HTTPMessageVerifier):
    """The library's verifier without its clock: `verify_request` checks `created` and `expires`
    itself, against the `now` its caller gives and after the signature, so that the codes come in
    the documented order."""

    def validate_created_and_expires(self, sig_input: object, max_age: object = None) -> None:
        return


class _FieldLines:
    """Header field lines in order, with case-insensitive names: the header interface the library
    reads (`items`) and, when signing, writes (assignment replaces every line of a name)."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self._lines = list(lines)

    def items(self) -> list[tuple[str, str]]:
        return list(self._lines)

    def value(self, name: str) -> str | None:
        """Every line of `name` combined as RFC 9110 section 5.3 does, or None if there is none."""
        values = [v.strip(" \t") for n, v in self._lines if n.lower() == name.lower()]
        return ", ".join(values) if values else None

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(n for n, _ in self._lines))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.value(name) is not None

    def __setitem__(self, name: str, value: str) -> None:
        del self[name]
        self._lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self._lines = [(n, v) for n, v in self._lines if n.lower() != name.lower()]


@dataclass
class _Message:
    """A request as the library's component resolver reads it."""

    method: str
    url: str
    headers: _FieldLines
