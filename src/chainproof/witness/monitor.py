"""`Monitor`: a client that remembers the checkpoint a log showed it and, on each run, accepts the
log's new checkpoint only if it is signed by the log's pinned key, carries a quorum of valid
cosignatures by the witnesses it trusts, and is proved consistent with the one remembered.

A log that forked (another tree of the same size, or a larger tree that does not contain the
one remembered) or rewrote or rolled back its history is reported with both checkpoints as
evidence, and the evidence is kept in the state directory; the remembered checkpoint stays as it
was, so every later run fails too until someone looks. A log shows one client one history and
another client another (a split view) only if every witness of the quorum cosigned both, which
an honest witness never does (`Witness`), or if the two clients never compare notes: a monitor
that sees both histories (or is shown the other one later) detects the fork.

State (`--state DIR`): `monitor.json` (`{"vkey", "size", "root" (hex), "note"}`) and, for each
finding with evidence, `evidence-<time>.json`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chainproof._internal.files import write_atomic
from chainproof.errors import ChainproofError, FormatError, StoreError, UsageError
from chainproof.log import merkle
from chainproof.log.note import Checkpoint, NoteError, parse_vkey, verify_checkpoint
from chainproof.witness import cosignature as cs

_SKEW_S = 300  # how far ahead of this host's clock a witness's may be


class LogSource(Protocol):
    """Where a monitor reads a log (`feed.LogFeed` for a chainproof server)."""

    url: str

    def vkey(self) -> str: ...

    def checkpoint(self) -> str: ...

    def consistency(self, old: int, new: int) -> tuple[bytes, ...]: ...


@dataclass(frozen=True)
class Remembered:
    vkey: str
    size: int
    root: bytes
    note: str


class MonitorState:
    """A monitor's memory of one log, in `directory` (created on first use)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / "monitor.json"

    def load(self) -> Remembered | None:
        try:
            raw = json.loads(self.path.read_text())
            return Remembered(
                str(raw["vkey"]), int(raw["size"]), bytes.fromhex(raw["root"]), str(raw["note"])
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise StoreError(f"{self.path}: cannot read the checkpoint remembered ({e})") from None

    def save(self, seen: Remembered) -> None:
        self._directory()
        record = {"vkey": seen.vkey, "size": seen.size, "root": seen.root.hex(), "note": seen.note}
        write_atomic(self.path, (json.dumps(record, indent=1) + "\n").encode())

    def keep_evidence(self, evidence: dict[str, Any]) -> Path:
        self._directory()
        path = self.directory / f"evidence-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
        write_atomic(path, (json.dumps(evidence, indent=1) + "\n").encode())
        return path

    def _directory(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            raise UsageError(f"cannot keep the monitor's state in {self.directory}: {e.strerror}") from None


@dataclass(frozen=True)
class Finding:
    """What is wrong: `kind` is fork, rollback, key-changed, bad-signature, bad-cosignature or quorum."""

    kind: str
    message: str


@dataclass
class MonitorReport:
    url: str
    vkey: str
    tree_size: int | None = None
    remembered_size: int | None = None
    first_contact: bool = False
    quorum: int = 0
    cosignatures: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    evidence: dict[str, Any] | None = None
    evidence_file: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def forked(self) -> bool:
        return any(f.kind in ("fork", "rollback") for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        """`{"ok", "url", "vkey", "tree_size", "remembered_size", "first_contact", "quorum",
        "cosignatures": [{"name", "vkey", "time"}], "findings": [{"kind", "message"}], "evidence":
        {"remembered", "offered"} | null, "evidence_file"}`."""
        return {
            "ok": self.ok,
            "url": self.url,
            "vkey": self.vkey,
            "tree_size": self.tree_size,
            "remembered_size": self.remembered_size,
            "first_contact": self.first_contact,
            "quorum": self.quorum,
            "cosignatures": self.cosignatures,
            "findings": [{"kind": f.kind, "message": f.message} for f in self.findings],
            "evidence": self.evidence,
            "evidence_file": self.evidence_file,
        }


class Monitor:
    """Watches the log `source` shows, remembering it in `state`. `witnesses` are the witnesses
    trusted, `quorum` how many of them must have cosigned a checkpoint for it to be accepted;
    `vkey` the log's key (default: pinned on first contact, then kept in `state`). With `max_age`,
    a cosignature counts only if made at most that many seconds before `clock()` (and not more
    than `_SKEW_S` after it): a log cannot then hold a client on an old checkpoint for longer."""

    def __init__(
        self,
        source: LogSource,
        state: MonitorState,
        *,
        witnesses: Sequence[cs.CosignatureVerifier] = (),
        quorum: int = 0,
        vkey: str | None = None,
        max_age: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if quorum < 0 or quorum > len(witnesses):
            raise UsageError(
                f"a quorum of {quorum} needs as many witnesses at least ({len(witnesses)} given)"
            )
        self.source = source
        self.state = state
        self.witnesses = list(witnesses)
        self.quorum = quorum
        self.vkey = vkey
        self.max_age = max_age
        self._clock = clock

    def run(self) -> MonitorReport:
        """Check the log's latest checkpoint; remember it if every check passes."""
        remembered = self.state.load()
        pinned = self._pinned(remembered)
        report = MonitorReport(self.source.url, pinned, quorum=self.quorum)
        report.first_contact = remembered is None
        report.remembered_size = None if remembered is None else remembered.size
        named = self.source.vkey()
        if named != pinned:
            report.findings.append(Finding("key-changed", f"the log now names the key {named}, not {pinned}"))
        note = self.source.checkpoint()
        try:
            cp = verify_checkpoint(note, parse_vkey(pinned))
        except NoteError as e:
            report.findings.append(Finding("bad-signature", f"the log's checkpoint does not verify: {e}"))
            report.evidence = {"remembered": None if remembered is None else remembered.note, "offered": note}
            return report
        report.tree_size = cp.size
        self._check_cosignatures(note, report)
        if remembered is not None:
            problem = self._consistency(remembered, cp)
            if problem is not None:
                report.findings.append(problem)
                report.evidence = {"remembered": remembered.note, "offered": note}
                report.evidence_file = str(self.state.keep_evidence(report.to_json()))
        if report.ok:
            self.state.save(Remembered(pinned, cp.size, cp.root, note))
        return report

    def _pinned(self, remembered: Remembered | None) -> str:
        if remembered is not None:
            if self.vkey is not None and self.vkey != remembered.vkey:
                raise UsageError(
                    f"{self.state.path} remembers the log key {remembered.vkey}, not {self.vkey}: "
                    "another log's state"
                )
            return remembered.vkey
        return self.vkey if self.vkey is not None else self.source.vkey()

    def _check_cosignatures(self, note: str, report: MonitorReport) -> None:
        body, lines = cs.split_note(note)
        try:
            found = cs.cosignatures_by(lines, body, self.witnesses)
        except cs.CosignatureError as e:
            report.findings.append(Finding("bad-cosignature", str(e)))
            return
        report.cosignatures = [{"name": v.name, "vkey": v.vkey, "time": c.timestamp} for v, c in found]
        counted = [c for _, c in found if self._fresh(c.timestamp)]
        if len(counted) < self.quorum:
            stale = len(found) - len(counted)
            report.findings.append(
                Finding(
                    "quorum",
                    f"the checkpoint carries {len(counted)} valid cosignature(s) by the witnesses given"
                    + (f" ({stale} more older than {self.max_age} s)" if stale else "")
                    + f"; {self.quorum} are required",
                )
            )

    def _fresh(self, timestamp: int) -> bool:
        if self.max_age is None:
            return True
        now = self._clock()
        return now - self.max_age <= timestamp <= now + _SKEW_S

    def _consistency(self, old: Remembered, new: Checkpoint) -> Finding | None:
        """None if `new` extends `old` (or is it); else a fork or rollback finding."""
        if new.size == old.size:
            if new.root == old.root:
                return None
            return Finding("fork", f"the log shows another tree of the same size {new.size}: it forked")
        small, large = (old.size, new.size) if new.size > old.size else (new.size, old.size)
        small_root, large_root = (old.root, new.root) if new.size > old.size else (new.root, old.root)
        try:
            proof = self.source.consistency(small, large) if small > 0 else ()
            merkle.verify_consistency(small, large, small_root, large_root, proof)
        except (ChainproofError, FormatError) as e:
            if new.size > old.size:
                return Finding(
                    "fork",
                    f"the log's tree of size {new.size} does not contain the one of size {old.size} "
                    f"seen before: it forked or rewrote its history ({e})",
                )
            return Finding(
                "fork",
                f"the log shows a tree of size {new.size} that the one of size {old.size} seen "
                f"before does not contain: it forked or rewrote its history ({e})",
            )
        if new.size < old.size:
            return Finding(
                "rollback", f"the log shows an older tree (size {new.size}) than the one seen ({old.size})"
            )
        return None
