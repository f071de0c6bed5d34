"""`Monitor` over an in-memory log: what it accepts and remembers, and each finding it reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree_support import Log, proof

from chainproof.attest import keys
from chainproof.errors import UsageError
from chainproof.log.note import NoteSigner
from chainproof.witness.cosignature import CosignatureSigner, with_lines
from chainproof.witness.monitor import Monitor, MonitorState


class Source:
    """A log as a server shows it; `witnesses` cosign every checkpoint it shows."""

    url = "memory://log"

    def __init__(self, log: Log, witnesses: list[CosignatureSigner] | None = None) -> None:
        self.log = log
        self.witnesses = witnesses or []
        self.named: str | None = None

    def vkey(self) -> str:
        return self.named or self.log.signer.verifier.vkey

    def checkpoint(self) -> str:
        note = self.log.note()
        body = note.split("\n\n")[0] + "\n"
        return with_lines(note, [w.cosign(body, 1_700_000_000).line() for w in self.witnesses])

    def consistency(self, old: int, new: int) -> tuple[bytes, ...]:
        if new > len(self.log.hashes):
            raise UsageError(f"size {new} is larger than the log")
        return proof(old, self.log.hashes[:new])


W1 = CosignatureSigner("w1.test", keys.generate())
W2 = CosignatureSigner("w2.test", keys.generate())


def _monitor(source: Source, tmp_path: Path, quorum: int = 1) -> Monitor:
    return Monitor(source, MonitorState(tmp_path / "m"), witnesses=[W1.verifier, W2.verifier], quorum=quorum)


def test_accepts_growth_with_a_quorum(tmp_path: Path) -> None:
    source = Source(Log().grow(3), [W1])
    first = _monitor(source, tmp_path).run()
    assert first.ok
    assert first.first_contact
    assert [c["name"] for c in first.cosignatures] == ["w1.test"]
    for n in (1, 5, 8):
        source.log.grow(n)
        report = _monitor(source, tmp_path).run()
        assert report.ok, report.findings
        assert report.remembered_size == len(source.log.hashes) - n


def test_a_same_size_fork_is_found_with_evidence(tmp_path: Path) -> None:
    honest = Log().grow(6)
    assert _monitor(Source(honest, [W1]), tmp_path).run().ok
    other = honest.copy(b"")
    other.hashes[2] = b"\x01" * 32
    report = _monitor(Source(other, [W1]), tmp_path).run()
    assert [f.kind for f in report.findings] == ["fork"]
    assert report.evidence == {
        "remembered": Source(honest, [W1]).checkpoint(),
        "offered": Source(other, [W1]).checkpoint(),
    }
    assert report.evidence_file is not None
    assert Path(report.evidence_file).exists()
    assert MonitorState(tmp_path / "m").load().size == 6  # type: ignore[union-attr]
    assert not _monitor(Source(other, [W1]), tmp_path).run().ok  # and it keeps failing


def test_a_rewritten_larger_history_is_a_fork(tmp_path: Path) -> None:
    honest = Log().grow(5)
    assert _monitor(Source(honest, [W1]), tmp_path).run().ok
    rewritten = Log(honest.signer, b"rewritten").grow(9)
    report = _monitor(Source(rewritten, [W1]), tmp_path).run()
    assert [f.kind for f in report.findings] == ["fork"]


def test_a_rollback_is_found(tmp_path: Path) -> None:
    log = Log().grow(4)
    older = log.copy(b"")
    log.grow(3)
    assert _monitor(Source(log, [W1]), tmp_path).run().ok
    stale = Source(log, [W1])  # the whole log behind it, an older checkpoint shown
    stale.checkpoint = Source(older, [W1]).checkpoint  # type: ignore[method-assign]
    assert [f.kind for f in _monitor(stale, tmp_path).run().findings] == ["rollback"]
    # a log truly cut back cannot prove the older tree is in the one seen: a rewrite
    assert [f.kind for f in _monitor(Source(older, [W1]), tmp_path).run().findings] == ["fork"]


def test_a_missing_quorum_is_not_accepted(tmp_path: Path) -> None:
    source = Source(Log().grow(2), [W1])
    report = _monitor(source, tmp_path, quorum=2).run()
    assert [f.kind for f in report.findings] == ["quorum"]
    assert MonitorState(tmp_path / "m").load() is None


def test_a_forged_cosignature_is_found(tmp_path: Path) -> None:
    impostor = CosignatureSigner("w1.test", keys.generate())  # the name, not the key
    source = Source(Log().grow(2), [impostor])
    report = _monitor(source, tmp_path).run()
    assert [f.kind for f in report.findings] == ["quorum"]  # another key: ignored, as the spec says
    source.witnesses = [W1]
    note = source.checkpoint()
    body, _, block = note.rpartition("\n\n")
    line = block.split("\n")[1]
    tampered = line[:-6] + ("AAAAAA" if line[-6:] != "AAAAAA" else "BBBBBB")
    source.checkpoint = lambda: f"{body}\n\n{block.split(chr(10))[0]}\n{tampered}\n"  # type: ignore[method-assign]
    report = _monitor(source, tmp_path).run()
    assert "bad-cosignature" in [f.kind for f in report.findings]


def test_a_changed_log_key_is_found(tmp_path: Path) -> None:
    log = Log().grow(2)
    assert _monitor(Source(log, [W1]), tmp_path).run().ok
    impostor = Log(NoteSigner(log.signer.name, keys.generate()))
    impostor.hashes = list(log.hashes)
    source = Source(impostor, [W1])
    kinds = [f.kind for f in _monitor(source, tmp_path).run().findings]
    assert kinds == ["key-changed", "bad-signature"]


def test_another_logs_state_is_refused(tmp_path: Path) -> None:
    assert _monitor(Source(Log().grow(1)), tmp_path, quorum=0).run().ok
    other = NoteSigner("other.test", keys.generate()).verifier.vkey
    with pytest.raises(UsageError, match="another log"):
        Monitor(Source(Log().grow(1)), MonitorState(tmp_path / "m"), vkey=other).run()


def test_old_cosignatures_do_not_count_with_a_max_age(tmp_path: Path) -> None:
    source = Source(Log().grow(2), [W1])  # cosigned at 1,700,000,000
    at = 1_700_000_000 + 600
    aged = Monitor(
        source, MonitorState(tmp_path / "m"), witnesses=[W1.verifier], quorum=1, max_age=300, clock=lambda: at
    )
    report = aged.run()
    assert [f.kind for f in report.findings] == ["quorum"]
    assert "older than 300 s" in report.findings[0].message
    fresh = Monitor(
        source, MonitorState(tmp_path / "m"), witnesses=[W1.verifier], quorum=1, max_age=900, clock=lambda: at
    )
    assert fresh.run().ok
    future = Monitor(
        source,
        MonitorState(tmp_path / "m"),
        witnesses=[W1.verifier],
        quorum=1,
        max_age=900,
        clock=lambda: at - 2000,
    )
    assert not future.run().ok
