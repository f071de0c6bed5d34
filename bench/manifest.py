"""Dataset manifests: `chainproof.custody.build` against `sha256sum` and OpenSSF model-signing.

The dataset is about 2 GB of mixed sizes, made once under bench/.cache/manifest-data/ from a fixed
seed (`--quick`: about 60 MB in manifest-data-quick/): four files of 192 to 448 MiB, 64 of 1 to
16 MiB and 20,000 small ones of 64 B to 64 KiB (log-uniform) in 100 directories. Every file is
read once before timing, so the page cache is warm for every contender. Then, three rounds taken
in turn, median of each:

- chainproof: `build(DIR)` in this process on every core, and `build(DIR, jobs=1)`;
- sha256sum: one `xargs -0 sha256sum` over the same files (one process: its bytes/s is per core);
- model-signing (PyPI `model-signing`, in its own venv bench/.cache/peers-venv from the hashed
  bench/requirements-peers.lock): `model_signing.hashing.hash(DIR)` (SHA-256 per file, its thread
  pool at its defaults), timed inside a child process around that call alone. Skipped, saying
  so, when it cannot be installed, or with CHAINPROOF_BENCH_PEERS=0 (the test suite's smoke run).

Both peers' per-file digests are checked against the manifest's. Targets (issue 14): chainproof's
bytes/s per core >= 0.9x sha256sum's, and model-signing's time >= 1.5x chainproof's.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import resource
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import _common as c
import guard_tools as g
from chainproof.custody import Manifest, build
from chainproof.custody.hashing import default_jobs

AREA = "manifest"
ROUNDS = 3
PEERS_LOCK = c.BENCH / "requirements-peers.lock"
PEERS_VENV = c.CACHE / "peers-venv"
TARGET_PER_CORE = 0.9
TARGET_PEER = 1.5
MiB = 1 << 20


@dataclass(frozen=True)
class Layout:
    big_mib: tuple[int, ...]
    medium: int
    medium_mib: tuple[int, int]
    small: int
    small_bytes: tuple[int, int]
    small_dirs: int
    seed: int = 20_261_207


FULL = Layout((448, 320, 256, 192), 64, (1, 16), 20_000, (64, 64 * 1024), 100)
QUICK = Layout((24, 16), 8, (1, 4), 2_000, (64, 64 * 1024), 10)


def _sizes(layout: Layout) -> dict[str, int]:
    """Every file's relative path and size, from the layout's seed."""
    rng = random.Random(layout.seed)
    out = {f"weights/model-{i:02d}.bin": mib * MiB for i, mib in enumerate(layout.big_mib)}
    for i in range(layout.medium):
        out[f"medium/part-{i:03d}.bin"] = rng.randint(*layout.medium_mib) * MiB - rng.randrange(4096)
    lo, hi = (math.log(b) for b in layout.small_bytes)
    for i in range(layout.small):
        out[f"shards/{i % layout.small_dirs:03d}/item-{i:06d}.json"] = int(math.exp(rng.uniform(lo, hi)))
    return out


def _write(path: Path, size: int, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            n = min(left, 4 * MiB)
            f.write(rng.randbytes(n))
            left -= n


def dataset(cfg: c.Config) -> tuple[Path, dict[str, int]]:
    """The cached dataset directory and its files' sizes; made again when missing or different."""
    layout = QUICK if cfg.quick else FULL
    root = c.CACHE / ("manifest-data-quick" if cfg.quick else "manifest-data")
    stamp = root.parent / f"{root.name}.json"
    sizes = _sizes(layout)
    want = json.dumps(asdict(layout), sort_keys=True)
    if not cfg.rebuild and stamp.exists() and stamp.read_text() == want and _matches(root, sizes):
        return root, sizes
    c.say(f"{AREA}: writing {len(sizes):,} files, {sum(sizes.values()) / 1e9:.2f} GB under {root}")
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    rng = random.Random(layout.seed + 1)
    for rel, size in sizes.items():
        _write(root / rel, size, rng)
    stamp.write_text(want)
    return root, sizes


def _matches(root: Path, sizes: dict[str, int]) -> bool:
    found = {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}
    return found == sizes


def _warm(root: Path, rels: list[str]) -> None:
    """Read every file once, so that every contender reads from the page cache."""
    buf = bytearray(MiB)
    for rel in rels:
        with (root / rel).open("rb", buffering=0) as f:
            while f.readinto(buf):
                pass


# -- the contenders ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    seconds: float
    cpu_seconds: float = 0.0


def _ours(root: Path, jobs: int | None) -> tuple[Timed, Manifest]:
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    manifest = build(root, jobs=jobs)
    took = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return Timed(took, cpu), manifest


def _sha256sum(root: Path, listing: Path) -> tuple[Timed, dict[str, str]]:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["xargs", "-0", "-a", str(listing), "sha256sum"], cwd=root, check=True, capture_output=True, text=True
    )
    took = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    digests = {}
    for line in proc.stdout.splitlines():
        digest, _, name = line.partition("  ")
        digests[name] = digest
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return Timed(took, cpu), digests


_PEER_SCRIPT = """
import json, sys, time
import model_signing.hashing
t0 = time.perf_counter()
m = model_signing.hashing.hash(sys.argv[1])
took = time.perf_counter() - t0
digests = {str(d.identifier): d.digest.digest_hex for d in m.resource_descriptors()}
json.dump({"seconds": took, "digests": digests}, sys.stdout)
"""


def _peer_python() -> Path | None:
    if os.environ.get("CHAINPROOF_BENCH_PEERS", "1") == "0":
        c.say(f"{AREA}: CHAINPROOF_BENCH_PEERS=0: model-signing skipped")
        return None
    try:
        pip_args = ["--require-hashes", "--only-binary", ":all:", "-r", str(PEERS_LOCK)]
        return g.ensure_venv(PEERS_VENV, pip_args)
    except (subprocess.CalledProcessError, OSError) as e:
        c.say(f"{AREA}: model-signing could not be installed ({e}); its figure is skipped")
        return None


def _model_signing(python: Path, root: Path) -> tuple[Timed, dict[str, str]]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python), "-c", _PEER_SCRIPT, str(root)], check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    out = json.loads(proc.stdout)
    return Timed(out["seconds"], wall), out["digests"]


def _check(manifest: Manifest, digests: dict[str, str], who: str) -> None:
    mine = {e.path: e.sha256.hex() for e in manifest}
    if digests != mine:
        differ = sorted(set(mine.items()) ^ set(digests.items()))[:3]
        raise RuntimeError(f"{who} and chainproof disagree on {len(differ)}+ files, e.g. {differ}")


# -- the area ---------------------------------------------------------------------------------


def measure(cfg: c.Config) -> list[c.Figure]:
    root, sizes = dataset(cfg)
    rels = sorted(sizes)
    total = sum(sizes.values())
    listing = c.CACHE / f"{root.name}.list"
    listing.write_bytes(b"".join(r.encode() + b"\0" for r in rels))
    jobs = default_jobs()
    peer = _peer_python()
    _warm(root, rels)
    ours: list[Timed] = []
    single: list[Timed] = []
    sums: list[Timed] = []
    peers: list[Timed] = []
    for i in range(ROUNDS):
        t, manifest = _ours(root, None)
        ours.append(t)
        t1, _ = _ours(root, 1)
        single.append(t1)
        ts, digests = _sha256sum(root, listing)
        sums.append(ts)
        _check(manifest, digests, "sha256sum")
        line = f"round {i + 1}: chainproof {t.seconds:.2f} s ({jobs} jobs), {t1.seconds:.2f} s (1 job)"
        line += f", sha256sum {ts.seconds:.2f} s"
        if peer is not None:
            tp, digests = _model_signing(peer, root)
            peers.append(tp)
            _check(manifest, digests, "model-signing")
            line += f", model-signing {tp.seconds:.2f} s ({tp.cpu_seconds:.2f} s with start-up)"
        c.say(f"{AREA}: {line}")
    return _figures(cfg, len(sizes), total, jobs, ours, single, sums, peers)


def _median(values: list[Timed]) -> float:
    return statistics.median(t.seconds for t in values)


def _rounds(values: list[Timed]) -> str:
    return ", ".join(f"{t.seconds:.2f}" for t in values) + " s"


def _figures(
    cfg: c.Config,
    files: int,
    total: int,
    jobs: int,
    ours: list[Timed],
    single: list[Timed],
    sums: list[Timed],
    peers: list[Timed],
) -> list[c.Figure]:
    full = not cfg.quick
    t_ours, t_single, t_sum = _median(ours), _median(single), _median(sums)
    per_core = total / t_ours / jobs
    sum_rate = total / t_sum
    cpu = statistics.median(t.cpu_seconds for t in ours)
    what = f"{files:,} files, {total / 1e9:.2f} GB"
    figures = [
        c.Figure(
            AREA,
            f"manifest of {what}, {jobs} cores (median of {ROUNDS})",
            t_ours,
            "s",
            note=f"rounds {_rounds(ours)}; CPU {cpu:.2f} s (user+sys); 1 job: rounds {_rounds(single)}",
        ),
        c.Figure(AREA, "  throughput, all cores", total / t_ours / 1e6, "MB/s"),
        c.Figure(AREA, "  throughput per core (wall time x cores)", per_core / 1e6, "MB/s"),
        c.Figure(AREA, "  throughput, 1 job", total / t_single / 1e6, "MB/s"),
        c.Figure(AREA, "  sha256sum, one process", sum_rate / 1e6, "MB/s", note=f"rounds {_rounds(sums)}"),
        c.Figure(
            AREA,
            "  per core: chainproof / sha256sum",
            per_core / sum_rate,
            "x",
            TARGET_PER_CORE if full else None,
        ),
        c.Figure(AREA, "  1 job: chainproof / sha256sum", t_sum / t_single, "x"),
    ]
    if peers:
        t_peer = _median(peers)
        figures.append(
            c.Figure(
                AREA,
                "  model-signing hash() time / chainproof build() time",
                t_peer / t_ours,
                "x",
                TARGET_PEER if full else None,
                note=f"model-signing rounds {_rounds(peers)} (inside its process; whole process "
                f"{', '.join(f'{t.cpu_seconds:.2f}' for t in peers)} s)",
            )
        )
    else:
        figures[0] = dataclasses.replace(figures[0], note=figures[0].note + "; model-signing skipped")
    return figures


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
