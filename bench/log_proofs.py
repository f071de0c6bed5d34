"""Proof generation in process: TransparencyLog.prove and TransparencyLog.consistency on the cached raw logs.

For each size: inclusion proofs for random indices and consistency proofs from random old sizes,
both to the full tree; one read transaction per proof, as the CLI does. Each call is timed alone
(median and p99 reported) after a warm-up; a sample of the proofs is then verified against the
root recorded at build time, outside the timing.
"""

from __future__ import annotations

import random

import _common as c
import log_build
from chainproof.log.service import TransparencyLog

AREA = "proofs"
_WARMUP = 200
_VERIFIED = 200


def _check(log: TransparencyLog, size: int, root: bytes, rng: random.Random) -> None:
    for _ in range(_VERIFIED):
        inc = log.prove(rng.randrange(size), size)
        inc.verify()
        con = log.consistency(rng.randrange(1, size), size)
        con.verify()
        if inc.root_hash != root or con.new_root != root:
            raise RuntimeError(f"a proof at size {size} is not to the root the build recorded")


def _figures(kind: str, size: int, seconds: list[float]) -> list[c.Figure]:
    ms = [s * 1e3 for s in seconds]
    n = f"{size:,}"
    return [
        c.Figure(AREA, f"{kind} proof median, {n} entries", c.quantile(ms, 0.5), "ms", 1, at_most=True),
        c.Figure(AREA, f"{kind} proof p99, {n} entries", c.quantile(ms, 0.99), "ms"),
    ]


def measure_size(size: int, samples: int, *, rebuild: bool = False) -> list[c.Figure]:
    info = log_build.ensure_store(size, rebuild=rebuild)
    log = c.open_raw(log_build.cache_dir(size))
    rng = random.Random(c.SEED + size)
    inclusion = [(rng.randrange(size), size) for _ in range(samples)]
    consistency = [(rng.randrange(1, size), size) for _ in range(samples)]
    c.say(f"{samples:,} inclusion and {samples:,} consistency proofs at {size:,} entries")
    c.latencies(log.prove, inclusion[:_WARMUP])
    c.latencies(log.consistency, consistency[:_WARMUP])
    inc = c.latencies(log.prove, inclusion)
    con = c.latencies(log.consistency, consistency)
    _check(log, size, bytes.fromhex(info.root), rng)
    log.close()
    return _figures("inclusion", size, inc) + _figures("consistency", size, con)


def measure(cfg: c.Config) -> list[c.Figure]:
    return [f for size in cfg.sizes for f in measure_size(size, cfg.samples, rebuild=cfg.rebuild)]


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
