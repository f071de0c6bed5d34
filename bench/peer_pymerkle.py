"""The same append-and-prove workload on chainproof's SqliteStore and on pymerkle's SqliteTree.

At N leaves (default 100k), both sides append the same synthetic leaves, BATCH per transaction,
then produce the same random inclusion proofs (index, N) and consistency proofs (old size, N):

- chainproof: SqliteStore writer with one signed checkpoint per batch; TransparencyLog.prove / consistency;
- pymerkle: SqliteTree.append_entries per batch (one transaction each); prove_inclusion /
  prove_consistency with its default subroot cache.

Both compute RFC 9162 trees, so their roots must agree; the run checks it. The headline is the
ratio of the whole workload's wall time; the per-phase ratios follow.

The two sides take turns, ROUNDS times, and each side's median round counts: this machine's speed
moves within seconds, and a single pair of runs a few seconds apart measured ratios from 6.4x to
13.4x within one minute.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pymerkle import SqliteTree  # type: ignore[import-untyped]

import _common as c
from chainproof.log.service import DB_FILE, TransparencyLog, root_at
from chainproof.log.sqlite import SqliteStore

AREA = "peer"
ROUNDS = 5

Calls = Sequence[tuple[int, int]]
_COLD = 5


@dataclass(frozen=True)
class Run:
    append_seconds: float
    inclusion: list[float]
    consistency: list[float]
    cold: list[float]  # the first inclusion proof on a freshly opened log, as one CLI call makes it
    root: bytes

    @property
    def total(self) -> float:
        return self.append_seconds + sum(self.inclusion) + sum(self.consistency)


def run_chainproof(n: int, inclusion: Calls, consistency: Calls) -> Run:
    directory = c.fresh_dir("peer-chainproof")
    store = SqliteStore(directory / DB_FILE, create=True)
    c.say(f"chainproof: {n:,} appends, then {len(inclusion):,} + {len(consistency):,} proofs")
    append_seconds = c.append_raw(store, n)
    log = TransparencyLog(directory, store)
    inc = c.latencies(log.prove, inclusion)
    con = c.latencies(log.consistency, consistency)
    with store.reader() as r:
        root = root_at(r, n)
    log.close()
    return Run(append_seconds, inc, con, _cold_chainproof(directory, inclusion[:_COLD]), root)


def _cold_chainproof(directory: Path, calls: Calls) -> list[float]:
    out: list[float] = []
    for index, size in calls:
        log = c.open_raw(directory)
        t0 = time.perf_counter()
        log.prove(index, size)
        out.append(time.perf_counter() - t0)
        log.close()
    return out


def run_pymerkle(n: int, inclusion: Calls, consistency: Calls) -> Run:
    directory = c.fresh_dir("peer-pymerkle")
    tree = SqliteTree(str(directory / "pymerkle.db"))
    c.say(f"pymerkle:   {n:,} appends, then {len(inclusion):,} + {len(consistency):,} proofs")
    append_seconds = 0.0
    for offset in range(0, n, c.BATCH):
        leaves = c.synthetic_leaves(offset, min(c.BATCH, n - offset))
        t0 = time.perf_counter()
        tree.append_entries(leaves)
        append_seconds += time.perf_counter() - t0
    inc = c.latencies(lambda index, size: tree.prove_inclusion(index + 1, size), inclusion)
    con = c.latencies(tree.prove_consistency, consistency)
    root = bytes(tree.get_root(n))
    tree.close()
    return Run(append_seconds, inc, con, _cold_pymerkle(directory / "pymerkle.db", inclusion[:_COLD]), root)


def _cold_pymerkle(db: Path, calls: Calls) -> list[float]:
    out: list[float] = []
    for index, size in calls:
        tree = SqliteTree(str(db))
        t0 = time.perf_counter()
        tree.prove_inclusion(index + 1, size)
        out.append(time.perf_counter() - t0)
        tree.close()
    return out


def _ratio(name: str, ours: float, theirs: float, detail: str, target: float | None = None) -> c.Figure:
    return c.Figure(AREA, name, theirs / ours, "x", target, note=detail)


def _median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.total)[len(runs) // 2]


def compare(ours_runs: list[Run], theirs_runs: list[Run], n: int) -> list[c.Figure]:
    ours, theirs = _median_run(ours_runs), _median_run(theirs_runs)
    cold = [c.quantile(r.cold, 0.5) * 1e3 for r in (ours, theirs)]
    med = {
        k: [c.quantile(getattr(r, k), 0.5) * 1e3 for r in (ours, theirs)]
        for k in ("inclusion", "consistency")
    }
    pairs = list(zip(ours_runs, theirs_runs, strict=True))
    rounds = ", ".join(f"{a.total:.2f}/{b.total:.2f}" for a, b in pairs)
    paired = sorted(b.total / a.total for a, b in pairs)
    return [
        _ratio(
            f"append-and-prove workload, {n:,}: chainproof faster than pymerkle by",
            ours.total,
            theirs.total,
            f"whole workload {ours.total:.2f} s (chainproof) vs {theirs.total:.2f} s (pymerkle), each "
            f"side's median of {len(ours_runs)} rounds taken in turn (chainproof/pymerkle s: {rounds}; "
            f"round by round {paired[0]:.1f}x to {paired[-1]:.1f}x, median {c.quantile(paired, 0.5):.1f}x)",
            10,
        ),
        _ratio(
            "  appends (median rounds): chainproof faster by",
            ours.append_seconds,
            theirs.append_seconds,
            f"{n / ours.append_seconds:,.0f} vs {n / theirs.append_seconds:,.0f} leaves/s",
        ),
        _ratio(
            "  inclusion proofs (median): chainproof faster by",
            med["inclusion"][0],
            med["inclusion"][1],
            f"{med['inclusion'][0]:.3f} vs {med['inclusion'][1]:.3f} ms",
        ),
        _ratio(
            "  consistency proofs (median): chainproof faster by",
            med["consistency"][0],
            med["consistency"][1],
            f"{med['consistency'][0]:.3f} vs {med['consistency'][1]:.3f} ms",
        ),
        _ratio(
            "  first proof on a freshly opened log (median rounds): chainproof faster by",
            cold[0],
            cold[1],
            f"{cold[0]:.3f} vs {cold[1]:.3f} ms, median of {_COLD}: what one `prove` CLI call pays",
        ),
    ]


def measure(cfg: c.Config) -> list[c.Figure]:
    n = cfg.peer_n
    rng = random.Random(c.SEED)
    inclusion = [(rng.randrange(n), n) for _ in range(cfg.samples)]
    consistency = [(rng.randrange(1, n), n) for _ in range(cfg.samples)]
    ours: list[Run] = []
    theirs: list[Run] = []
    for _ in range(ROUNDS):
        ours.append(run_chainproof(n, inclusion, consistency))
        theirs.append(run_pymerkle(n, inclusion, consistency))
        for name in ("peer-chainproof", "peer-pymerkle"):
            shutil.rmtree(c.SCRATCH / name)
        if ours[-1].root != theirs[-1].root:
            raise RuntimeError(f"chainproof and pymerkle disagree on the root of {n:,} leaves")
    return compare(ours, theirs, n)


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
