"""Audit: re-hashing stored leaves into roots, recomputing tiles, and the full audit with signatures.

- re-hash: the auditor's own hashing path as `audit_store` runs it once the tiles are found sound
  (`Auditor.entry` / `Auditor.checkpoint`: leaf hashes, comparison with the committed leaf
  hashes, CompactRange fed the stored root of each matching full tile, root against every signed
  checkpoint) over `export.events` of the largest cached raw log, with DSSE admission switched off
  because raw leaves are not envelopes; the store scan alone is timed too, to show its share;
- tiles: `check_tiles` over the same log: every stored tile recomputed from the level below;
- full: `audit_store` over the DSSE log of the append area, exactly what `chainproof audit` does
  on a store: every signature, key rule and checkpoint verified.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import _common as c
import log_append
import log_build
from chainproof.log import export
from chainproof.log.audit import Auditor, AuditReport, audit_store, check_tiles, tile_roots
from chainproof.log.custody import CustodyLog
from chainproof.log.note import NoteVerifier
from chainproof.log.store import LogReader

AREA = "audit"


class _RehashOnly(Auditor):
    """The auditor minus envelope admission: raw bench leaves are not DSSE envelopes."""

    def _admit(self, index: int, leaf: bytes) -> None:
        return None


def _rehash(reader: LogReader, size: int) -> None:
    auditor = _RehashOnly(c.raw_verifier(), block_roots=tile_roots(reader))
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


def _seconds(log: CustodyLog, run: Callable[[LogReader, int], None]) -> tuple[int, float]:
    """Entries and seconds for one pass of `run` in one read transaction."""
    with log.reading() as r:
        size = r.size()
        t0 = time.perf_counter()
        run(r, size)
        return size, time.perf_counter() - t0


def raw_figures(size: int) -> list[c.Figure]:
    log_build.ensure_store(size)
    log = c.open_raw(log_build.cache_dir(size))
    n = f"{size:,}"
    c.say(f"auditing the {n}-entry raw log: store scan, re-hash, tiles")
    _, scan = _seconds(log, _scan)
    _, rehash = _seconds(log, _rehash)
    _, tiles = _seconds(log, _tiles)
    log.close()
    return [
        c.Figure(
            AREA,
            f"audit re-hash (leaf hashes, roots vs checkpoints), {n}",
            size / rehash,
            "leaves/s",
            500_000,
            note=f"the store scan alone (export.events) runs at {size / scan:,.0f} leaves/s",
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
