"""`Witness`: the tlog-witness state machine. It cosigns a log's checkpoint only when the
checkpoint is signed by the log's pinned key and proved consistent with the latest checkpoint it
cosigned for that log, and records it before answering; so it never cosigns two views of one
log, nor a smaller tree than one it cosigned.

The checks run in the order tlog-witness gives, each refusal with its HTTP status
(`protocol.WitnessRefusal`). Storage is `state.WitnessState`; HTTP is elsewhere (`http`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chainproof.errors import FormatError
from chainproof.log import merkle
from chainproof.log.note import NoteError, NoteVerifier, open_note, parse_checkpoint, parse_vkey
from chainproof.witness.cosignature import Cosignature, CosignatureSigner, CosignatureVerifier
from chainproof.witness.protocol import (
    AddCheckpoint,
    BadLogSignature,
    BadProof,
    BadRequest,
    Conflict,
    UnknownLog,
)
from chainproof.witness.state import Cosigned, WitnessState


class Witness:
    """A witness named and keyed by `signer`, for the logs pinned in `state` (origin -> vkey).

    `clock` gives the cosignatures' timestamps (POSIX seconds)."""

    def __init__(
        self, signer: CosignatureSigner, state: WitnessState, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.signer = signer
        self.state = state
        self._clock = clock

    @property
    def verifier(self) -> CosignatureVerifier:
        return self.signer.verifier

    @property
    def vkey(self) -> str:
        """This witness's cosignature verifier key (what a log's `serve --witness` is given)."""
        return self.verifier.vkey

    def latest(self, origin: str) -> Cosigned | None:
        return self.state.latest(origin)

    def _log_key(self, origin: str) -> NoteVerifier:
        vkey = self.state.logs().get(origin)
        if vkey is None:
            raise UnknownLog(f"this witness does not witness the log {origin!r}")
        return parse_vkey(vkey)

    def add_checkpoint(self, request: AddCheckpoint) -> list[Cosignature]:
        """Cosign `request.note` if it extends the latest checkpoint cosigned for its log, and
        record it; raise the `WitnessRefusal` tlog-witness prescribes otherwise."""
        body = _body(request.note)
        try:
            cp = parse_checkpoint(body)
        except FormatError as e:
            raise BadRequest(f"the note is not a checkpoint: {e}") from None
        log_key = self._log_key(cp.origin)
        try:
            open_note(request.note, log_key)
        except NoteError as e:
            raise BadLogSignature(f"the checkpoint is not signed by {log_key.vkey}: {e}") from None
        if request.old_size > cp.size:
            raise BadRequest(f"old size {request.old_size} is larger than the checkpoint's {cp.size}")
        with self.state.updating(cp.origin):
            latest = self.state.latest(cp.origin)
            self._check_extends(latest, request, cp.size, cp.root)
            self.state.save(Cosigned(cp.origin, cp.size, cp.root, request.note))
            return [self.signer.cosign(body, int(self._clock()))]

    @staticmethod
    def _check_extends(latest: Cosigned | None, request: AddCheckpoint, size: int, root: bytes) -> None:
        have = latest.size if latest is not None else 0
        if request.old_size != have:
            raise Conflict(
                f"old size {request.old_size} is not the size this witness last cosigned ({have})", have
            )
        if latest is not None and size == latest.size and root != latest.root:
            raise Conflict(
                f"another tree of size {size} than the one this witness cosigned: the log forked", have
            )
        if latest is None or size == latest.size:
            if request.proof:
                raise BadProof("the consistency proof must be empty here")
            return
        try:
            merkle.verify_consistency(latest.size, size, latest.root, root, request.proof)
        except merkle.ProofError as e:
            raise BadProof(
                f"the checkpoint of size {size} is not consistent with the one cosigned at size "
                f"{latest.size}: {e}"
            ) from None


def _body(note: str) -> str:
    body, sep, _ = note.rpartition("\n\n")
    if not sep:
        raise BadRequest("the checkpoint note has no signature block")
    return body + "\n"
