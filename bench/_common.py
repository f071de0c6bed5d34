"""Shared helpers for the benchmark scripts: options, synthetic data, timing, cached logs, the table.

Every area script exposes `measure(cfg) -> list[Figure]`; `run.py` calls them in turn, and each
script also runs on its own (`python bench/log_proofs.py --quick`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import platform
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.attest import dsse, keys
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
from chainproof.log import merkle
from chainproof.log.note import Checkpoint, NoteSigner, NoteVerifier, parse_vkey
from chainproof.log.service import DB_FILE, TransparencyLog, root_at
from chainproof.log.sqlite import SqliteStore
from chainproof.log.store import append_leaves

BENCH = Path(__file__).resolve().parent
# Built logs and scratch stores; CHAINPROOF_BENCH_CACHE moves them (the test suite's smoke run does).
CACHE = Path(os.environ.get("CHAINPROOF_BENCH_CACHE") or BENCH / ".cache")
SCRATCH = CACHE / "scratch"  # fresh stores live here: same disk as the cache, emptied per run
BATCH = 10_000  # leaves per write transaction for raw appends
DSSE_BATCH = 1_000  # envelopes per TransparencyLog.append call
RAW_ORIGIN = "bench.chainproof.dev/raw"
DSSE_ORIGIN = "bench.chainproof.dev/dsse"
_LEAF_PAD = b"|synthetic-leaf|" + b"0123456789abcdef" * 5  # 96 bytes; 108 with the 12-digit counter
# Raw stores sign their checkpoints with this fixed key, so that a cached store audits later runs.
_RAW_SIGNER_SEED = hashlib.sha256(b"chainproof bench raw checkpoint signer").digest()
_ACTOR_SEED = hashlib.sha256(b"chainproof bench actor").digest()
SEED = 20_240_601


# -- options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    quick: bool
    sizes: tuple[int, ...]  # logs to prove in; the largest is the one built for RSS and disk
    append_n: int  # raw leaves appended to a fresh store
    dsse_n: int  # pre-signed envelopes appended to a fresh custody log (and audited)
    peer_n: int  # leaves in the pymerkle comparison
    samples: int  # proofs of each kind per size
    rebuild: bool
    strict: bool
    json_out: Path | None
    markdown_out: Path | None
    guard_sample: int | None = None  # wheels GuardDog scans in guard-peer; None: the whole set
    top_n: int | None = None  # projects in guard-fp; None: the whole top-1000 list
    guarddog_fp: bool = False  # also run GuardDog over the guard-fp projects (slow)

    @property
    def largest(self) -> int:
        return max(self.sizes)


@dataclass(frozen=True)
class Defaults:
    sizes: tuple[int, ...]
    append_n: int
    dsse_n: int
    peer_n: int
    samples: int


FULL = Defaults(
    sizes=(1_000_000, 10_000_000), append_n=1_000_000, dsse_n=50_000, peer_n=100_000, samples=2_000
)
QUICK = Defaults(sizes=(10_000, 100_000), append_n=100_000, dsse_n=3_000, peer_n=10_000, samples=300)


def parse_count(text: str) -> int:
    """`10000`, `100k`, `1M`, `10_000_000`."""
    t = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    value = int(float(t[:-1]) * scale) if scale > 1 else int(t)
    if value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a size must be at least 2")
    return value


def _counts(text: str) -> tuple[int, ...]:
    return tuple(sorted({parse_count(part) for part in text.split(",") if part.strip()}))


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of ~10 s")
    parser.add_argument("--sizes", type=_counts, help="log sizes for proofs and the build, e.g. 1M,10M")
    parser.add_argument("--append-n", type=parse_count, help="raw leaves appended to a fresh store")
    parser.add_argument("--dsse-n", type=parse_count, help="DSSE envelopes appended and audited")
    parser.add_argument("--peer-n", type=parse_count, help="leaves in the pymerkle comparison")
    parser.add_argument("--samples", type=parse_count, help="proofs of each kind per size")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached logs under bench/.cache")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--json", type=Path, dest="json_out", help="also write the figures as JSON here")
    parser.add_argument("--markdown", type=Path, dest="markdown_out", help="also write a Markdown table here")
    parser.add_argument(
        "--guard-sample", type=int, metavar="N", help="guard-peer: GuardDog scans N of the wheels (0: all)"
    )
    parser.add_argument("--top-n", type=int, metavar="N", help="guard-fp: the N most downloaded only")
    parser.add_argument(
        "--guarddog-fp", action="store_true", help="guard-fp: also run GuardDog on every project (hours)"
    )


def config_from(args: argparse.Namespace) -> Config:
    base = QUICK if args.quick else FULL
    return Config(
        quick=args.quick,
        sizes=args.sizes or base.sizes,
        append_n=args.append_n or base.append_n,
        dsse_n=args.dsse_n or base.dsse_n,
        peer_n=args.peer_n or base.peer_n,
        samples=args.samples or base.samples,
        rebuild=args.rebuild,
        strict=args.strict,
        json_out=args.json_out,
        markdown_out=args.markdown_out,
        guard_sample=getattr(args, "guard_sample", None),
        top_n=getattr(args, "top_n", None),
        guarddog_fp=getattr(args, "guarddog_fp", False),
    )


# -- figures and the table -----------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One measured value, with its target when the issue sets one."""

    area: str
    name: str
    value: float
    unit: str
    target: float | None = None
    at_most: bool = False  # the target is an upper bound (latency, memory) rather than a floor
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value <= self.target if self.at_most else self.value >= self.target

    @property
    def status(self) -> str:
        return {None: "", True: "met", False: "NOT MET"}[self.met]

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"{'<=' if self.at_most else '>='} {fmt(self.target)} {self.unit}"


def fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(figures: Sequence[Figure]) -> str:
    rows = [("area", "figure", "value", "target", "status")]
    rows += [(f.area, f.name, f"{fmt(f.value)} {f.unit}", f.target_text(), f.status) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"  [{i}] {f.name}: {f.note}" for i, f in enumerate(figures, 1) if f.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def say(text: str) -> None:
    """Progress, on stderr, so that stdout holds only the header and the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# -- the machine -------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _interpreter() -> str:
    """The interpreter as typed: `.venv/bin/python` when it lives under the working directory."""
    path = Path(sys.executable)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def machine() -> dict[str, str]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "command": shlex.join([_interpreter(), *sys.argv]),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
    }


def speed_probe(rounds: int = 9, calls: int = 200) -> str:
    """How fast this machine is right now: `keys.verify` and a leaf hash, median of rounds.

    Shared virtual machines change speed from one second to the next; the probe, taken at the start
    and the end of a run, shows how much.
    """
    key = Ed25519PrivateKey.from_private_bytes(_ACTOR_SEED)
    message = b"x" * 600
    sig, public = key.sign(message), keys.public_raw(key.public_key())
    leaf = synthetic_leaves(0, 1)[0]
    verify, sha = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            keys.verify(public, sig, message)
        t1 = time.perf_counter()
        for _ in range(calls * 50):
            merkle.leaf_hash(leaf)
        t2 = time.perf_counter()
        verify.append((t1 - t0) / calls)
        sha.append((t2 - t1) / (calls * 50))
    return (
        f"Ed25519 verify {quantile(verify, 0.5) * 1e6:.0f} us "
        f"(rounds {min(verify) * 1e6:.0f}-{max(verify) * 1e6:.0f}), "
        f"leaf hash {quantile(sha, 0.5) * 1e6:.2f} us ({min(sha) * 1e6:.2f}-{max(sha) * 1e6:.2f})"
    )


def header(info: dict[str, str]) -> str:
    return "\n".join(f"{k:14s} {v}" for k, v in info.items())


# -- timing -----------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank of the sorted values: the smallest value with at least
    a q share of them at or below it."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def latencies(fn: Callable[[int, int], object], calls: Sequence[tuple[int, int]]) -> list[float]:
    """Seconds per call of fn(a, b), one perf_counter pair around each call."""
    out: list[float] = []
    clock = time.perf_counter
    for a, b in calls:
        t0 = clock()
        fn(a, b)
        out.append(clock() - t0)
    return out


def fresh_dir(name: str) -> Path:
    path = SCRATCH / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def disk_bytes(db: Path) -> int:
    """log.db plus its WAL, after a truncating checkpoint (no other connection may be open)."""
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def table_bytes(db: Path) -> dict[str, int]:
    """Bytes per table and index, from SQLite's dbstat view."""
    con = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    finally:
        con.close()
    return {str(name): int(size) for name, size in rows}


# -- raw leaves: the synthetic workload ---------------------------------------------------


def synthetic_leaves(start: int, count: int) -> list[bytes]:
    """Distinct, deterministic ~108-byte leaves."""
    pad = _LEAF_PAD
    return [b"%012d" % i + pad for i in range(start, start + count)]


def raw_signer() -> NoteSigner:
    return NoteSigner(RAW_ORIGIN, Ed25519PrivateKey.from_private_bytes(_RAW_SIGNER_SEED))


def raw_verifier() -> NoteVerifier:
    return raw_signer().verifier


def append_batch(store: SqliteStore, signer: NoteSigner, leaves: Sequence[bytes]) -> int:
    """One write transaction: hash the leaves, append them, insert one signed checkpoint."""
    hashes = merkle.leaf_hashes(leaves)
    with store.writer() as w:
        first = append_leaves(w, leaves, hashes)
        size = first + len(leaves)
        w.add_checkpoint(size, signer.sign(Checkpoint(signer.name, size, root_at(w, size)).body()))
    return size


def append_raw(
    store: SqliteStore,
    count: int,
    *,
    batch: int = BATCH,
    on_batch: Callable[[int, float], None] | None = None,
) -> float:
    """Append `count` synthetic leaves after the store's current end; the seconds spent storing them.

    Generating the leaves is not timed; hashing, writing, the checkpoint and the commit are.
    """
    signer = raw_signer()
    with store.reader() as r:
        start = r.size()
    spent = 0.0
    for offset in range(0, count, batch):
        leaves = synthetic_leaves(start + offset, min(batch, count - offset))
        t0 = time.perf_counter()
        size = append_batch(store, signer, leaves)
        took = time.perf_counter() - t0
        spent += took
        if on_batch is not None:
            on_batch(size, took)
    return spent


def open_raw(directory: Path) -> TransparencyLog:
    """A raw store as a TransparencyLog: proofs and reads work on it; appends need a signer key file."""
    return TransparencyLog(directory, SqliteStore(directory / DB_FILE))


# -- DSSE envelopes: the custody workload ----------------------------------------------------


def bench_statement(i: int) -> Statement:
    digest = hashlib.sha256(b"shard %d" % i).hexdigest()
    predicate = {"step": "tokenize", "shard": i, "tokenizer": "bpe-32k", "records": 1000 + i % 977}
    subject = Subject(f"data/shard-{i:08d}.jsonl", {"sha256": digest})
    return Statement((subject,), "https://chainproof.dev/bench/v1", predicate)


def actor_key() -> Ed25519PrivateKey:
    """The key every bench envelope is signed with; registered in every bench DSSE log."""
    return Ed25519PrivateKey.from_private_bytes(_ACTOR_SEED)


def presign(start: int, count: int) -> list[dsse.Envelope]:
    key = actor_key()
    return [sign_statement(bench_statement(i), key) for i in range(start, start + count)]


def create_dsse_log(directory: Path) -> TransparencyLog:
    """A new custody log (genesis entry) with the bench actor key registered (entry 1)."""
    log = TransparencyLog.create(directory, DSSE_ORIGIN)
    log.register_key("bench-actor", actor_key())
    return log


def append_envelopes(
    log: TransparencyLog, envelopes: Sequence[dsse.Envelope], batch: int = DSSE_BATCH
) -> list[float]:
    """Append in batches; the seconds each batch took."""
    took: list[float] = []
    for offset in range(0, len(envelopes), batch):
        t0 = time.perf_counter()
        result = log.append(envelopes[offset : offset + batch])
        took.append(time.perf_counter() - t0)
        if any(e.duplicate for e in result.entries):
            raise RuntimeError("a bench envelope was taken for a duplicate")
    return took


def checkpoint_verifier(log: TransparencyLog) -> NoteVerifier:
    return parse_vkey(log.vkey)


# -- running an area on its own --------------------------------------------------------------


def write_json(path: Path, info: dict[str, str], figures: Sequence[Figure]) -> None:
    payload = {"machine": info, "figures": [dataclasses.asdict(f) | {"met": f.met} for f in figures]}
    path.write_text(json.dumps(payload, indent=2) + "\n")


def markdown(info: dict[str, str], figures: Sequence[Figure]) -> str:
    lines = [f"- {k}: `{v}`" if k == "command" else f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "| area | figure | value | target | status |", "| --- | --- | ---: | --- | --- |"]
    lines += [
        f"| {f.area} | {f.name.strip()} | {fmt(f.value)} {f.unit} | {f.target_text()} | {f.status} |"
        for f in figures
    ]
    notes = [f"- {f.name.strip()}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + (["", "Notes:", "", *notes] if notes else [])) + "\n"


def finish(cfg: Config, info: dict[str, str], figures: Sequence[Figure]) -> int:
    """Print the table (and write JSON or Markdown when asked); the exit status under --strict."""
    print()
    print(table(figures))
    if cfg.json_out is not None:
        write_json(cfg.json_out, info, figures)
    if cfg.markdown_out is not None:
        cfg.markdown_out.write_text(markdown(info, figures))
    return 1 if cfg.strict and any(f.met is False for f in figures) else 0


def standalone(description: str, measure: Callable[[Config], list[Figure]]) -> None:
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_options(parser)
    cfg = config_from(parser.parse_args())
    info = machine()
    info["probe at start"] = speed_probe()
    print(header(info))
    figures = measure(cfg)
    info["probe at end"] = speed_probe()
    print(f"{'probe at end':14s} {info['probe at end']}")
    sys.exit(finish(cfg, info, figures))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(
    store: Path | str, work: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """`chainproof serve` on `store` with `args`, without rate limits, ready: its URL and pid.
    Stopped with SIGTERM (killed after a minute) when the block ends; its stderr in `work`."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "chainproof", "--store", str(store), "serve", "--port", str(port)]
    command += ["--rate", "1e6", "--burst", "1000000", *args]
    log = work / f"server-{port}.log"
    with log.open("wb") as err:
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, env=env if env is not None else {**os.environ}
        )
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"the server on {url} did not start: {log.read_text()[-2000:]}")
        if process.poll() is not None:
            raise RuntimeError(f"the server on {url} stopped: {log.read_text()[-2000:]}")
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
