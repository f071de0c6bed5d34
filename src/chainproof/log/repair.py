"""Repairing stored checkpoints that the log's verifier key rejects.

A store keeps every checkpoint it signs, so one signed with another key (a `log-signer.pem`
swapped before the log checked its key) made every later audit fail. Signing such a checkpoint
again with the log's own key is sound when what it claims is true: it keeps its size and root, and
the whole log must then audit clean, which recomputes each root from the entries, admits every
entry again and checks every checkpoint the real key signed. No other checkpoint is touched, so
nothing a monitor already holds changes; a checkpoint that claims anything else is refused.

Pure logic over a reader: `TransparencyLog.repair_checkpoints` runs it under the write lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from chainproof.errors import FormatError, StoreError, VerificationError
from chainproof.log.export import CheckpointLine, Event
from chainproof.log.note import Checkpoint, NoteSigner, parse_checkpoint, verify_checkpoint
from chainproof.log.store import LogReader


@dataclass(frozen=True)
class Repair:
    resigned: tuple[int, ...]
    """The tree sizes whose checkpoints were signed again, smallest first."""
    checkpoints: int
    """How many checkpoints the store holds."""

    def to_json(self) -> dict[str, Any]:
        """`{"resigned": [tree sizes], "checkpoints"}`."""
        return {"resigned": list(self.resigned), "checkpoints": self.checkpoints}


@dataclass(frozen=True)
class Resigned:
    size: int
    old: str
    """The stored note, which the verifier key rejects."""
    new: str
    """The same checkpoint, signed by the log's own key."""


def rejected(reader: LogReader, signer: NoteSigner) -> list[Resigned]:
    """Every stored checkpoint that `signer`'s verifier key rejects, signed again by `signer`.

    StoreError when one does not claim to be this log's checkpoint at the size it is stored at:
    no signature could make it right."""
    found: list[Resigned] = []
    for size, note in reader.checkpoints():
        try:
            verify_checkpoint(note, signer.verifier)
            continue
        except VerificationError:
            pass
        claimed = _claimed(note)
        if claimed is None or claimed.origin != signer.name or claimed.size != size:
            raise StoreError(
                f"the checkpoint stored for tree size {size} is not a checkpoint of {signer.name} at that "
                "size; signing it again cannot repair it"
            )
        found.append(Resigned(size, note, signer.sign(claimed.body())))
    return found


def _claimed(note: str) -> Checkpoint | None:
    """The checkpoint a note's body states, its signatures unchecked; None if it states none."""
    body, blank, _ = note.rpartition("\n\n")
    if not blank:
        return None
    try:
        return parse_checkpoint(body + "\n")
    except FormatError:
        return None


def substituted(notes: Iterable[Resigned]) -> Callable[[Iterable[Event]], Iterator[Event]]:
    """A `watch` for an audit that sees each re-signed checkpoint where the old one stands."""
    new: Mapping[str, str] = {r.old: r.new for r in notes}

    def watch(events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            yield (
                CheckpointLine(new.get(event.note, event.note))
                if isinstance(event, CheckpointLine)
                else event
            )

    return watch
