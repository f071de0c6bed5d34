"""The JSON shapes of the log's results: what `--json` prints and what the server will serve.

Plain dicts and lists, in a stable order, with hashes in lowercase hex. Proofs (`proofs`), bound
proofs (`binding.Bound`), the audit report (`audit.AuditReport`) and a repair (`repair.Repair`)
give their own with `to_json`; the values here live in modules that hold no JSON.

Nothing is imported at module level but typing: `log get` and `log checkpoint` run once per entry
in scripts (ADR 5), and pay only for what they print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from chainproof.attest.dsse import Envelope
    from chainproof.log.service import AppendResult, TransparencyLog
    from chainproof.log.store import KeyRecord
    from chainproof.remote.log import RemoteLog


def append_json(result: AppendResult) -> dict[str, Any]:
    """`{"entries": [{"index", "leaf_hash", "duplicate"}], "tree_size"}`."""
    return {
        "entries": [
            {"index": e.index, "leaf_hash": e.leaf_hash.hex(), "duplicate": e.duplicate}
            for e in result.entries
        ],
        "tree_size": result.tree_size,
    }


def entry_json(index: int, envelope: Envelope) -> dict[str, Any]:
    """`{"index", "envelope", "statement"}`: the statement decoded from the payload, or the
    payload as text when it is not JSON (an entry is shown as it is, whatever it holds)."""
    payload = envelope.payload.decode("utf-8", errors="replace")
    return {"index": index, "envelope": envelope.to_json_obj(), "statement": _json_or_text(payload)}


def _json_or_text(text: str) -> object:
    import json  # noqa: PLC0415 - see the module's docstring

    try:
        return json.loads(text)
    except ValueError:
        return text


def checkpoint_json(note: str) -> dict[str, Any]:
    """`{"origin", "tree_size", "root_hash", "root_base64", "note"}` of a checkpoint the log
    signed, read from its body: the log's own, from its store, so its signature is not checked
    here (`audit` and `verify-note` check it)."""
    from base64 import b64encode  # noqa: PLC0415 - see the module's docstring

    from chainproof.log.note import parse_checkpoint  # noqa: PLC0415

    cp = parse_checkpoint(note.split("\n\n", 1)[0] + "\n")
    return {
        "origin": cp.origin,
        "tree_size": cp.size,
        "root_hash": cp.root.hex(),
        "root_base64": b64encode(cp.root).decode(),
        "note": note,
    }


def key_json(record: KeyRecord) -> dict[str, Any]:
    """`{"name", "keyid", "role", "registered_at", "revoked_from", "revoked_at"}`."""
    return {
        "name": record.name,
        "keyid": record.keyid,
        "role": record.role,
        "registered_at": record.registered_at,
        "revoked_from": record.revoked_from,
        "revoked_at": record.revoked_at,
    }


def registered_key_json(name: str, public_key: Ed25519PublicKey, index: int) -> dict[str, Any]:
    """`{"name", "keyid", "public_key_pem", "index"}` of a key just registered at entry `index`."""
    from chainproof.attest import keys  # noqa: PLC0415 - see the module's docstring

    return {
        "name": name,
        "keyid": keys.keyid(public_key),
        "public_key_pem": keys.public_pem(public_key),
        "index": index,
    }


@dataclass(frozen=True, kw_only=True)
class LogInfo:
    """What `log info` shows of a store."""

    store: Path | str
    origin: str
    tree_size: int
    vkey: str
    keys: int
    """How many keys the registry holds, revoked ones included."""

    @classmethod
    def of(cls, log: TransparencyLog | RemoteLog) -> LogInfo:
        return cls(
            store=log.directory, tree_size=log.size(), origin=log.origin, vkey=log.vkey, keys=len(log.keys())
        )

    def to_json(self) -> dict[str, Any]:
        """`{"store", "origin", "tree_size", "vkey", "keys"}`."""
        return {
            "store": str(self.store),
            "origin": self.origin,
            "tree_size": self.tree_size,
            "vkey": self.vkey,
            "keys": self.keys,
        }
