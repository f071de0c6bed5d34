"""Signing an attestation: an in-toto Statement v1 about some subjects, in a DSSE envelope.

`sign_attestation` builds the statement and signs it, and refuses an envelope the log would refuse
for its size, so that nothing is signed and handed out that `log append` cannot take. Pure but for
the signature: the key is given, not read, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chainproof._internal import untrusted_json
from chainproof._internal.config import max_entry_bytes
from chainproof.attest import dsse, keys
from chainproof.attest.statement import Statement, Subject
from chainproof.errors import FormatError, UsageError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class NoSubject(UsageError):
    """A statement was asked for about nothing: in-toto requires at least one subject."""


@dataclass(frozen=True, kw_only=True)
class Attestation:
    """A signed statement: the statement, its envelope, and the id of the key that signed it."""

    statement: Statement
    envelope: dsse.Envelope
    keyid: str

    def to_json(self) -> dict[str, Any]:
        """`{"keyid", "predicate_type", "subjects"}`, subjects by name: what `attest --json`
        reports after the file it wrote."""
        return {
            "keyid": self.keyid,
            "predicate_type": self.statement.predicate_type,
            "subjects": [s.name for s in self.statement.subjects],
        }


def sign_statement(statement: Statement, key: Ed25519PrivateKey) -> dsse.Envelope:
    """`statement` in a DSSE envelope signed by `key`, under the key's id (no size limit: see
    `sign_attestation` for the check a log's writer makes)."""
    return dsse.sign(dsse.INTOTO_PAYLOAD_TYPE, statement.canonical(), key, keys.keyid(key.public_key()))


def parse_predicate(data: bytes) -> dict[str, Any]:
    """A predicate read from untrusted bytes: a JSON object, without a key named twice."""
    try:
        body = untrusted_json.loads(data)
    except untrusted_json.JsonInputError as e:
        raise FormatError(f"the predicate: {e}") from None
    except ValueError as e:
        raise FormatError(f"the predicate is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise FormatError("the predicate must be a JSON object")
    return body


def sign_attestation(
    *,
    key: Ed25519PrivateKey,
    subjects: Sequence[Subject],
    predicate_type: str,
    predicate: Mapping[str, Any],
    max_bytes: int | None = None,
) -> Attestation:
    """Sign a statement of `predicate_type` about `subjects`, carrying `predicate`.

    Raises `NoSubject` for no subjects, `FormatError` for a statement the log would not read (an
    empty type, a predicate with no RFC 8785 form) and for an envelope larger than `max_bytes`
    (default: the log's limit, `CHAINPROOF_MAX_ENTRY_BYTES`), which `log append` would refuse.
    """
    if not subjects:
        raise NoSubject("a statement needs at least one subject")
    statement = Statement(tuple(subjects), predicate_type, predicate)
    envelope = sign_statement(statement, key)
    limit = max_entry_bytes() if max_bytes is None else max_bytes
    if (size := envelope.canonical_size()) > limit:
        raise FormatError(dsse.too_large(size, limit))
    return Attestation(statement=statement, envelope=envelope, keyid=envelope.signatures[0].keyid)
