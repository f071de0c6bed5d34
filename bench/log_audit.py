"""Audit: re-hashing stored leaves into roots, recomputing tiles, and the full audit with signatures.

- re-hash: the auditor's hashing as `audit_store` runs it on a large store once the tiles are found
  sound: `audit.rehash_store` (worker processes, one per core or `CHAINPROOF_JOBS`, each reading
  its ranges of the largest cached raw log, hashing every leaf, comparing it with the committed
  leaf hash, folding the ranges' subtrees into the root at every checkpoint size), then every
  signed checkpoint verified and its root compared; the same in one process (`Auditor.entry` /
  `Auditor.checkpoint` over `export.events`, DSSE admission switched off because raw leaves are
  not envelopes), what a small log or `CHAINPROOF_JOBS=1` gets; the store scan alone, for its
  share. The audit proper (`audit_store`) reads the entries once more, in its own transaction, to
  admit them: that pass is part of the full audit below;
- tiles: `check_tiles` over the same log: every stored tile recomputed from the level below;
- full: `audit_store` over the DSSE log of the append area, exactly what `chainproof audit` does
  on a store: every signature, key rule and checkpoint verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import _common as c
import log_append
import log_build
from chainproof.log import export, sqlite
from chainproof.log.audit import Auditor, AuditReport, audit_store, check_tiles, rehash_store, tile_roots
from chainproof.log.note import NoteVerifier, verify_checkpoint
from chainproof.log.rehash_workers import Jobs, Opener
from chainproof.log.service import DB_FILE, TransparencyLog
from chainproof.log.store import LogReader

AREA = "audit"


class _RehashOnly(Auditor):
    """The auditor minus envelope admission: raw bench leaves are not DSSE envelopes."""

    def _admit(self, index: int, leaf: bytes) -> None:
        return None


def _rehash(reader: LogReader, size: int, opener: Opener, jobs: Jobs) -> None:
    rehashed = rehash_store(reader, size, opener, jobs)
    if rehashed is None:
        raise SystemExit(f"the {size:,}-entry log is too small for worker processes")
    verifier = c.raw_verifier()
    for checkpoint_size, note in reader.checkpoints():
        if verify_checkpoint(note, verifier).root != rehashed.roots[checkpoint_size]:
            raise SystemExit(f"the checkpoint of size {checkpoint_size} does not match the entries")
    if rehashed.mismatch_count:
        raise SystemExit(f"{rehashed.mismatch_count} entries do not hash to their leaf hashes")


def _rehash_in_process(reader: LogReader, size: int) -> None:
    auditor = _RehashOnly(c.raw_verifier(), block_roots=tile_roots(reader, size))
    for ev in export.events(reader, size):
        if isinstance(ev, export.EntryBatch):
            auditor.entry_batch(ev.leaves, ev.claims)
        elif isinstance(ev, export.EntryLine):
            auditor.entry(ev.leaf, ev.claimed)
        else:
            auditor.checkpoint(ev.note)
    auditor.finish(size).check()


def _scan(reader: LogReader, size: int) -> None:
    for _ in export.events(reader, size):
        pass


def _tiles(reader: LogReader, size: int) -> None:
    report = AuditReport()
    check_tiles(reader, size, report)
    report.check()


def _full(reader: LogReader, size: int, verifier: NoteVerifier) -> None:
    audit_store(reader, size, verifier).check()


def _seconds(log: TransparencyLog, run: Callable[[LogReader, int], None]) -> tuple[int, float]:
    """Entries and seconds for one pass of `run` in one read transaction."""
    with log.reading() as r:
        size = r.size()
        t0 = time.perf_counter()
        run(r, size)
        return size, time.perf_counter() - t0


def raw_figures(size: int) -> list[c.Figure]:
    log_build.ensure_store(size)
    directory = log_build.cache_dir(size)
    log = c.open_raw(directory)
    n = f"{size:,}"
    jobs = Jobs.default()

    def opener() -> AbstractContextManager[LogReader]:
        return sqlite.read_only(directory / DB_FILE)

    c.say(f"auditing the {n}-entry raw log: store scan, re-hash ({jobs.workers} workers, then 1), tiles")
    _, scan = _seconds(log, _scan)
    _, rehash = _seconds(log, lambda r, s: _rehash(r, s, opener, jobs))
    _, serial = _seconds(log, _rehash_in_process)
    _, tiles = _seconds(log, _tiles)
    log.close()
    return [
        c.Figure(
            AREA,
            f"audit re-hash (leaf hashes, roots vs checkpoints), {n}",
            size / rehash,
            "leaves/s",
            500_000,
            note=f"{jobs.workers} worker processes; in one process {size / serial:,.0f} leaves/s; "
            f"the store scan alone (export.events) runs at {size / scan:,.0f} leaves/s",
        ),
        c.Figure(AREA, f"audit tile recomputation (check_tiles), {n}", size / tiles, "leaves/s", 500_000),
        c.Figure(
            AREA,
            f"audit re-hash + tiles together, {n}",
            size / (rehash + tiles),
            "leaves/s",
            note="what `chainproof audit` (audit_store) spends on a store besides admission",
        ),
    ]


def full_figure(n: int) -> c.Figure:
    log = log_append.ensure_dsse_log(n)
    c.say(f"full audit of the {n:,}-envelope DSSE log")
    verifier = c.checkpoint_verifier(log)
    size, seconds = _seconds(log, lambda r, s: _full(r, s, verifier))
    log.close()
    return c.Figure(
        AREA,
        f"full audit with signature checks, DSSE log of {size:,}",
        size / seconds,
        "entries/s",
        note="audit_store, as `chainproof audit` on a store",
    )


def measure(cfg: c.Config) -> list[c.Figure]:
    return [*raw_figures(cfg.largest), full_figure(cfg.dsse_n)]


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
