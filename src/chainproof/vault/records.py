"""The log entries the vault makes, pure: the pusher's statement that names a stored dataset, and
the `access` hop the server records before it serves a pull.

- Stored: an in-toto Statement v1 of type `https://chainproof.dev/vault/stored/v1`, one subject
  `{"name": "dataset", "digest": {"sha256": <root hex>}}`, predicate `{"files": <n>, "bytes":
  <total>, "time": <RFC 3339>}`, signed by the pusher's registered key. The server appends it once
  every file is stored; a puller proves it included in the log.
- Access: the custody `access` hop (`chainproof record access`'s type) whose input and subject is
  the dataset, with `grant` (the grant's id), `purpose` (the grant's) and `annotations`
  `{"actor": <name>, "keyid": <the actor's keyid>, "via": "vault pull"}`, signed by the puller's
  own key: the server requires it, and appends it, before it serves a byte, so no pull goes
  unrecorded; and as the actor's own record, lineage, impact and the grants' uses see it as any
  other access of that actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chainproof.attest import dsse
from chainproof.attest.statement import Statement, Subject
from chainproof.attest.statement import parse as parse_statement
from chainproof.custody import predicates
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest, HopRecord
from chainproof.errors import VerificationError

STORED_TYPE = "https://chainproof.dev/vault/stored/v1"
VIA = "vault pull"


def stored_statement(root: bytes, files: int, size: int, time: str) -> Statement:
    return Statement(
        (Subject("dataset", {"sha256": root.hex()}),),
        STORED_TYPE,
        {"files": files, "bytes": size, "time": time},
    )


def check_stored(envelope: dsse.Envelope, root: bytes) -> Mapping[str, Any]:
    """The predicate of a stored statement naming `root` (VerificationError if it is not one)."""
    if envelope.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
        raise VerificationError("the dataset's log entry is not an in-toto statement")
    st = parse_statement(envelope.payload)
    if st.predicate_type != STORED_TYPE:
        raise VerificationError(f"the dataset's log entry is of type {st.predicate_type}, not {STORED_TYPE}")
    if [dict(s.digest) for s in st.subjects] != [{"sha256": root.hex()}]:
        raise VerificationError(f"the dataset's log entry names another subject than sha256:{root.hex()}")
    return st.predicate


def access_record(
    root: bytes, *, grant_id: str, purpose: str, actor: str, keyid: str, time: str
) -> HopRecord:
    return HopRecord(
        hop=Hop.ACCESS,
        inputs=(Digest("sha256:" + root.hex()),),
        outputs=(),
        details={
            "grant": grant_id,
            "purpose": purpose,
            "annotations": {"actor": actor, "keyid": keyid, "via": VIA},
        },
        time=time,
    )


def access_statement(record: HopRecord) -> Statement:
    return predicates.to_statement(record)


def check_access(envelope: dsse.Envelope, root: bytes, keyid: str) -> HopRecord:
    """The access record in `envelope`, if it is the vault's record of a pull of `root`, signed by
    the key `keyid` alone and naming it; VerificationError if not."""
    if [s.keyid for s in envelope.signatures] != [keyid]:
        raise VerificationError("the access record is not signed by the puller's key alone")
    if envelope.payload_type != dsse.INTOTO_PAYLOAD_TYPE:
        raise VerificationError("the access record is not an in-toto statement")
    record = predicates.from_statement(parse_statement(envelope.payload))
    if not isinstance(record, HopRecord) or record.hop is not Hop.ACCESS:
        raise VerificationError("the statement is not an access record")
    annotations = record.details.get("annotations") or {}
    if record.inputs != (Digest("sha256:" + root.hex()),) or annotations.get("keyid") != keyid:
        raise VerificationError("the access record names another dataset or another key")
    if annotations.get("via") != VIA:
        raise VerificationError("the access record is not a vault pull's")
    return record
