"""C2SP tlog-witness: the `add-checkpoint` request a log (or any feeder) sends a witness, and the
refusals the witness answers with, each with its HTTP status.

A request body is `old <size>\\n`, up to 63 consistency-proof lines (one base64 hash each), an
empty line, then the signed checkpoint note. The witness answers 200 with its cosignature lines;
409 with its own latest size (`text/x.tlog.size`) when `old` is not that size, or when a
checkpoint of the same size has another root; 422 when the proof does not verify; 404 for an
origin it does not witness; 403 when no signature by a key it trusts for that origin verifies;
400 for a body that is not such a request.

Pure: no I/O.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from chainproof.errors import FormatError, VerificationError
from chainproof.log import merkle
from chainproof.log.note import b64decode_strict

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_MAX_BODY = 64 << 10


class WitnessRefusal(VerificationError):
    """The witness will not cosign: `status` is the tlog-witness HTTP status that says why."""

    status = 400
    code = "bad-request"


class BadRequest(WitnessRefusal):
    pass


class UnknownLog(WitnessRefusal):
    status = 404
    code = "unknown-log"


class BadLogSignature(WitnessRefusal):
    status = 403
    code = "bad-log-signature"


class Conflict(WitnessRefusal):
    """The checkpoint does not follow the witness's latest: `size` is that latest size."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class BadProof(WitnessRefusal):
    status = 422
    code = "bad-proof"


@dataclass(frozen=True)
class AddCheckpoint:
    """One `add-checkpoint` request: the size the sender believes the witness is at, a
    consistency proof from that size to the checkpoint's, and the signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str

    def to_body(self) -> bytes:
        lines = [f"old {self.old_size}", *(base64.b64encode(h).decode("ascii") for h in self.proof)]
        return ("\n".join(lines) + "\n\n" + self.note).encode("utf-8")


def parse_add_checkpoint(data: bytes) -> AddCheckpoint:
    """Read an `add-checkpoint` body; BadRequest when it is not one."""
    if len(data) > _MAX_BODY:
        raise BadRequest(f"the request body is over {_MAX_BODY} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise BadRequest("the request has no empty line before its checkpoint")
    first, *proof_lines = head.split("\n")
    word, space, size = first.partition(" ")
    if word != "old" or not space or not _decimal(size):
        raise BadRequest(f"the first line must be 'old <size>', not {first[:60]!r}")
    if len(proof_lines) > MAX_PROOF_LINES:
        raise BadRequest(f"a consistency proof has at most {MAX_PROOF_LINES} lines")
    try:
        proof = tuple(b64decode_strict(line, "a consistency proof line") for line in proof_lines)
    except FormatError as e:
        raise BadRequest(str(e)) from None
    if any(len(h) != 32 for h in proof):
        raise BadRequest("a consistency proof line is not a 32-byte hash")
    return AddCheckpoint(int(size), proof, note)


def _decimal(text: str) -> bool:
    return (
        text.isascii()
        and text.isdigit()
        and (text == "0" or not text.startswith("0"))
        and len(text) <= merkle.SIZE_DIGITS
        and int(text) < merkle.SIZE_LIMIT
    )


def conflict_body(size: int) -> bytes:
    """The body of a 409 answer: the witness's latest size, in decimal, with a newline."""
    return f"{size}\n".encode("ascii")


def parse_conflict_body(data: bytes) -> int:
    text = data.decode("ascii", errors="replace")
    if not text.endswith("\n") or not _decimal(text[:-1]):
        raise FormatError(f"a 409 answer's body is a tree size and a newline, not {text[:40]!r}")
    return int(text[:-1])
