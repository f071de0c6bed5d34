"""A witness's rounds against a chainproof server: fetch the log's latest checkpoint and a
consistency proof from what the witness cosigned last, have the `Witness` check and cosign it,
and hand the cosignature to the log (`POST /v1/log/cosignatures`).

The server's proof is only the proof's hashes: the witness checks them against the root it
recorded itself, never against a root the server names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chainproof.errors import FormatError, UsageError
from chainproof.log import proofs as proof_json
from chainproof.log.note import parse_checkpoint, parse_vkey
from chainproof.log.proofs import ConsistencyProof
from chainproof.remote.client import RemoteClient
from chainproof.witness.cosignature import Cosignature, with_lines
from chainproof.witness.protocol import AddCheckpoint, Conflict, WitnessRefusal
from chainproof.witness.witness import Witness


class LogFeed:
    """The log of a chainproof server at `url`, as a witness reads it (unsigned requests)."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.client = RemoteClient(url, timeout=timeout)
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
