"""A witness's rounds against a chainproof server: fetch the log's latest checkpoint and a
consistency proof from what the witness cosigned last, have the `Witness` check and cosign it,
and hand the cosignature to the log (`POST /v1/log/cosignatures`). And `feed_witness`, the same
for a witness elsewhere (any C2SP tlog-witness), asked over HTTP.

The server's proof is only the proof's hashes: the witness checks them against the root it
recorded itself, never against a root the server names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from chainproof.errors import FormatError, UsageError, VerificationError
from chainproof.log import proofs as proof_json
from chainproof.log.note import parse_checkpoint, parse_vkey
from chainproof.log.proofs import ConsistencyProof
from chainproof.remote.client import RemoteClient
from chainproof.witness import http
from chainproof.witness.cosignature import Cosignature, CosignatureVerifier, cosignatures_by, with_lines
from chainproof.witness.protocol import AddCheckpoint, Conflict, WitnessRefusal
from chainproof.witness.witness import Witness

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class LogFeed:
    """The log of a chainproof server at `url`, as a witness reads it and hands in cosignatures:
    requests signed (RFC 9421) by `key`, the witness's own cosigning key (which the server knows
    from `serve --witness`) or a registered actor's; unsigned without one, which reads a public
    log but hands in nothing."""

    def __init__(self, url: str, key: Ed25519PrivateKey | None = None, *, timeout: float = 30.0) -> None:
        self.client = RemoteClient(url, key, timeout=timeout)
        self.url = self.client.url

    def close(self) -> None:
        self.client.close()

    def vkey(self) -> str:
        return str(self.client.get("/v1/log")["vkey"])

    def checkpoint(self) -> str:
        """The log's latest checkpoint note (unchecked: the witness checks it)."""
        return str(self.client.get("/v1/log/checkpoint")["note"])

    def consistency(self, old: int, new: int) -> tuple[bytes, ...]:
        got = proof_json.parse(self.client.get("/v1/log/proofs/consistency", {"old": old, "new": new}))
        if not isinstance(got, ConsistencyProof) or (got.old_size, got.new_size) != (old, new):
            raise FormatError(f"{self.url}: the server answered another proof than asked")
        return got.proof

    def witnessed_size(self, vkey: str) -> int | None:
        """The largest tree size the log lists as cosigned by the witness `vkey` (None: none)."""
        for row in self.client.get("/v1/witnesses").get("witnesses", []):
            if isinstance(row, dict) and row.get("vkey") == vkey and isinstance(row.get("size"), int):
                return int(row["size"])
        return None

    def hand_in(self, cosigned_note: str) -> list[dict[str, Any]]:
        """Give the log a checkpoint note with cosignature lines; what it kept."""
        answer = self.client.post("/v1/log/cosignatures", cosigned_note.encode("utf-8"))
        kept = answer.get("cosignatures")
        return kept if isinstance(kept, list) else []


def pin_log(witness: Witness, feed: LogFeed, log_vkey: str | None = None) -> str:
    """The origin of the log `feed` reads, its key pinned in the witness's state: `log_vkey` when
    given, else the key pinned before, else (first contact) the key the log names. A log that
    later names another key is not re-pinned: its checkpoints then fail the witness's check."""
    if log_vkey is not None:
        origin = parse_vkey(log_vkey).name
        witness.state.pin(origin, log_vkey)
        return origin
    named = feed.vkey()
    origin = parse_vkey(named).name
    if origin not in witness.state.logs():
        witness.state.pin(origin, named)
    return origin


@dataclass
class Round:
    """What one round did: the checkpoint offered, the one cosigned before, and the outcome."""

    offered: str
    previous: str | None
    size: int
    cosignatures: list[Cosignature] = field(default_factory=list)
    refusal: WitnessRefusal | None = None
    kept: list[dict[str, Any]] | None = None
    hand_in_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.size,
            "cosigned": [c.line() for c in self.cosignatures],
            "refusal": None
            if self.refusal is None
            else {"status": self.refusal.status, "code": self.refusal.code, "message": str(self.refusal)},
            "handed_in": self.kept,
            "hand_in_error": self.hand_in_error,
            "evidence": None if self.ok else {"cosigned": self.previous, "offered": self.offered},
        }


def run_round(witness: Witness, feed: LogFeed) -> Round:
    """One round: the log's latest checkpoint, checked and cosigned, then handed to the log.

    A refusal (an inconsistent, smaller or badly signed checkpoint) is returned in the round,
    with both checkpoints as evidence; the log refusing the cosignature is `hand_in_error`."""
    note = feed.checkpoint()
    body = note.rpartition("\n\n")[0] + "\n"
    try:
        cp = parse_checkpoint(body)
    except FormatError as e:
        raise FormatError(f"{feed.url}: its checkpoint is not one: {e}") from None
    latest = witness.latest(cp.origin)
    old = 0 if latest is None else latest.size
    done = Round(note, None if latest is None else latest.note, cp.size)
    try:
        if old > cp.size:
            raise Conflict(f"the log's checkpoint has {cp.size} entries, fewer than the {old} cosigned", old)
        proof = feed.consistency(old, cp.size) if 0 < old < cp.size else ()
        done.cosignatures = witness.add_checkpoint(AddCheckpoint(old, proof, note))
    except WitnessRefusal as e:
        done.refusal = e
        return done
    try:
        done.kept = feed.hand_in(with_lines(note, [c.line() for c in done.cosignatures]))
    except UsageError as e:  # the log refused it (e.g. it does not list this witness)
        done.hand_in_error = str(e)
    return done


@dataclass
class Fed:
    """What feeding one witness did: the tree size it cosigned and what the log kept."""

    size: int
    cosignatures: list[Cosignature]
    kept: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.size,
            "cosigned": [c.line() for c in self.cosignatures],
            "handed_in": self.kept,
        }


def feed_witness(
    feed: LogFeed, url: str, verifier: CosignatureVerifier, *, client: httpx.Client | None = None
) -> Fed:
    """Have the C2SP witness at `url` (any tlog-witness implementation, `verifier` its key)
    cosign the log's latest checkpoint, then hand its cosignature to the log.

    The old size is the one the log lists for that witness, or 0; a 409 names the witness's own,
    and the request is made once more from there. `http.Refused` when the witness refuses (a log
    inconsistent with what it cosigned, for one); VerificationError when its answer carries no
    valid cosignature by `verifier`."""
    note = feed.checkpoint()
    body = note.rpartition("\n\n")[0] + "\n"
    try:
        size = parse_checkpoint(body).size
    except FormatError as e:
        raise FormatError(f"{feed.url}: its checkpoint is not one: {e}") from None
    old = feed.witnessed_size(verifier.vkey) or 0
    old = old if old <= size else 0
    for attempt in (1, 2):
        proof = feed.consistency(old, size) if 0 < old < size else ()
        try:
            lines = http.submit(url, AddCheckpoint(old, proof, note), client=client)
            break
        except http.Refused as e:
            if attempt == 2 or e.status != 409 or e.size is None or e.size == old or e.size > size:
                raise
            old = e.size
    found = cosignatures_by(lines, body, [verifier])
    if not found:
        raise VerificationError(f"{url}: the witness answered no cosignature by {verifier.vkey}")
    cosignatures = [c for _, c in found]
    kept = feed.hand_in(with_lines(note, [c.line() for c in cosignatures]))
    return Fed(size, cosignatures, kept)
