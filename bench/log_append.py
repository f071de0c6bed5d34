"""Appends: raw leaves through SqliteStore's writer, and signed DSSE envelopes through TransparencyLog.append.

- raw: synthetic ~108-byte leaves into a fresh store, BATCH leaves per write transaction, leaf
  hashing and one signed checkpoint insert per transaction included (leaf generation is not);
- DSSE: envelopes pre-signed by a registered actor key (signing is not timed), appended in batches
  of DSSE_BATCH; every append verifies every signature. One process is one core;
- context: Ed25519 verification alone on this machine, and two processes appending to one log.

The DSSE log is kept under bench/.cache/dsse-N/ for the audit area.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import _common as c
from chainproof.attest import dsse, keys
from chainproof.log import merkle
from chainproof.log.service import DB_FILE, TransparencyLog
from chainproof.log.sqlite import SqliteStore

AREA = "append"


def raw_appends(n: int) -> list[c.Figure]:
    directory = c.fresh_dir("append-raw")
    store = SqliteStore(directory / DB_FILE, create=True)
    c.say(f"appending {n:,} raw leaves to a fresh store")
    spent = c.append_raw(store, n)
    c.say(f"indexing the leaf hashes of the {n:,} raw leaves, as the next lookup by a writer does")
    probe = merkle.leaf_hash(c.synthetic_leaves(n - 1, 1)[0])
    t0 = time.perf_counter()
    with store.writer() as w:
        found = w.find_leaves([probe])
    indexing = time.perf_counter() - t0
    store.close()
    shutil.rmtree(directory)
    if found != {probe: n - 1}:
        raise RuntimeError("the leaf index lost a raw leaf")
    return [
        c.Figure(
            AREA,
            f"raw leaf appends, fresh store to {n:,}",
            n / spent,
            "leaves/s",
            100_000,
            note=f"{c.BATCH:,} leaves + 1 signed checkpoint per transaction; leaf hashing included; raw "
            "leaves are not deduplicated, so their appends leave the leaf-hash index to the next writer "
            "that looks leaves up",
        ),
        c.Figure(
            AREA,
            f"  leaf-hash index catch-up over those {n:,} leaves",
            n / indexing,
            "leaves/s",
            note="one writer transaction that looks a leaf up first indexes every entry past the index's "
            "mark (custody appends, which deduplicate, index as they append)",
        ),
    ]


# -- DSSE --------------------------------------------------------------------------------


def dsse_dir(n: int) -> Path:
    return c.CACHE / f"dsse-{n}"


def build_dsse_log(directory: Path, n: int) -> tuple[float, float, list[float]]:
    """A fresh custody log of n bench envelopes (plus genesis and key registration).

    Returns the wall and CPU seconds of the appends alone, and each batch's seconds.
    """
    shutil.rmtree(directory, ignore_errors=True)
    log = c.create_dsse_log(directory)
    c.say(f"pre-signing {n:,} DSSE envelopes (not timed)")
    envelopes = c.presign(0, n)
    c.say(f"appending {n:,} envelopes, {c.DSSE_BATCH:,} per TransparencyLog.append")
    wall0, cpu0 = time.perf_counter(), time.process_time()
    took = c.append_envelopes(log, envelopes)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    log.close()
    return wall, cpu, took


def ensure_dsse_log(n: int) -> TransparencyLog:
    """The cached DSSE log of n envelopes, built (untimed) when missing."""
    directory = dsse_dir(n)
    if (directory / DB_FILE).is_file():
        log = TransparencyLog.open(directory)
        if log.size() == n + 2:
            return log
        log.close()
    build_dsse_log(directory, n)
    return TransparencyLog.open(directory)


def dsse_appends(n: int) -> c.Figure:
    partial = c.CACHE / f"dsse-{n}.partial"
    wall, cpu, took = build_dsse_log(partial, n)
    shutil.rmtree(dsse_dir(n), ignore_errors=True)
    partial.rename(dsse_dir(n))
    leaf = len(c.presign(0, 1)[0].canonical())
    median, fastest, slowest = (c.DSSE_BATCH / t for t in (c.quantile(took, 0.5), min(took), max(took)))
    return c.Figure(
        AREA,
        f"DSSE appends with signature checks, 1 process, {n:,}",
        n / wall,
        "envelopes/s",
        8_000,
        note=f"per core: one process used {cpu / wall:.0%} of a core; {c.DSSE_BATCH:,} envelopes "
        f"per append, {leaf}-byte leaves, Ed25519; batches: median {median:,.0f}/s, fastest "
        f"{fastest:,.0f}/s, slowest {slowest:,.0f}/s (the rate above counts every stall of the host)",
    )


def verify_ceiling(rounds: int = 15, calls: int = 200) -> c.Figure:
    """`keys.verify`, the check admission makes, on one bench envelope: median of rounds."""
    env = c.presign(0, 1)[0]
    public = keys.public_raw(c.actor_key().public_key())
    message, sig = dsse.pae(env.payload_type, env.payload), env.signatures[0].sig
    per: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(calls):
            keys.verify(public, sig, message)
        per.append((time.perf_counter() - t0) / calls)
    median = c.quantile(per, 0.5)
    return c.Figure(
        AREA,
        "Ed25519 verify alone (keys.verify)",
        1 / median,
        "verifies/s",
        note=f"{median * 1e6:.0f} us each (fastest round {min(per) * 1e6:.0f} us): one per envelope, "
        "so the ceiling of DSSE appends per core on this machine",
    )


# -- two writers on one log --------------------------------------------------------------


def _writer_child(directory: Path, start: int, count: int) -> None:
    envelopes = c.presign(start, count)
    log = TransparencyLog.open(directory)
    print("ready", flush=True)
    sys.stdin.readline()
    c.append_envelopes(log, envelopes)
    print("done", flush=True)


def two_writers(n: int) -> c.Figure:
    """Two processes append n/2 envelopes each to the same log at the same time."""
    directory = c.fresh_dir("append-two-writers")
    c.create_dsse_log(directory / "log").close()
    half = n // 2
    c.say(f"two processes appending {half:,} envelopes each to one log")
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--writer", str(directory / "log"), str(i * half), str(half)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for p in children:
        if p.stdout is None or p.stdout.readline().strip() != "ready":
            raise RuntimeError("a writer process did not start")
    t0 = time.perf_counter()
    for p in children:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate()[0] for p in children]
    wall = time.perf_counter() - t0
    if any(p.returncode or o.strip() != "done" for p, o in zip(children, outs, strict=True)):
        raise RuntimeError("a writer process failed")
    shutil.rmtree(directory)
    return c.Figure(
        AREA,
        "DSSE appends, 2 processes on one log (total)",
        2 * half / wall,
        "envelopes/s",
        note="signatures are verified before the write transaction, so writers to one log overlap",
    )


def measure(cfg: c.Config) -> list[c.Figure]:
    return [*raw_appends(cfg.append_n), dsse_appends(cfg.dsse_n), verify_ceiling(), two_writers(cfg.dsse_n)]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        _writer_child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        c.standalone(__doc__ or "", measure)
