"""Crash test: a writer process killed with SIGKILL at random moments loses nothing it acknowledged.

A child process appends batches of signed envelopes through the chainproof library and prints
one JSON line per batch only after `TransparencyLog.append` returned, that is after the SQLite
transaction committed. The parent kills it with SIGKILL at seeded random moments (while it is
appending, or while it is still starting and opening the store), restarts it where the
acknowledged batches end, and finally checks that

- every acknowledged entry is in the log at its acknowledged index with the same leaf hash, and an
  inclusion proof for it verifies against the final root;
- every checkpoint ever observed (acknowledged by the child, or read by the parent between runs)
  is still stored verbatim and is consistent with the final checkpoint;
- a batch is in the log entirely or not at all, and no envelope is in the log twice;
- the store still accepts appends, and the whole log audits clean (entries, checkpoints, tiles).
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from store_support import ORIGIN, audit_export, audit_store, checkpoint_of, envelopes, write_export

from chainproof.attest import keys
from chainproof.log import merkle
from chainproof.log.service import DB_FILE, TransparencyLog

SEED = 20240613
KILLS = 18

# The child: the batch number b holds 1 + (7b mod 11) envelopes of statements b*100 + k, signed
# by the actor key (Ed25519 is deterministic, so a batch re-sent after a crash is byte-identical).
CHILD = r"""
import json, sys
from pathlib import Path
from chainproof.attest import keys
from chainproof.log.service import TransparencyLog
from chainproof.attest.signing import sign_statement
from chainproof.attest.statement import Statement, Subject
import hashlib

store, key_file, first = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
actor = keys.read_private(key_file)
log = TransparencyLog.open(store)
print(json.dumps({"ready": True}), flush=True)
for b in range(first, first + 100000):
    batch = []
    for k in range(1 + (7 * b) % 11):
        n = b * 100 + k
        name = f"crash-{n}"
        st = Statement(
            (Subject(name, {"sha256": hashlib.sha256(name.encode()).hexdigest()}),),
            "https://chainproof.test/crash/v1",
            {"n": n, "padding": "x" * 300},
        )
        batch.append(sign_statement(st, actor))
    result = log.append(batch)
    line = {
        "batch": b,
        "entries": [[e.index, e.leaf_hash.hex(), e.duplicate] for e in result.entries],
        "tree_size": result.tree_size,
        "checkpoint": result.checkpoint,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
"""


def batch_size(b: int) -> int:
    return 1 + (7 * b) % 11


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    lines: list[bytes] = field(default_factory=list)
    acks: int = 0
    ready: threading.Event = field(default_factory=threading.Event)
    first_ack: threading.Event = field(default_factory=threading.Event)

    def pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if b'"ready"' in line:
                self.ready.set()
            elif line.endswith(b"\n"):
                self.acks += 1
                self.first_ack.set()


@dataclass
class Acked:
    index: int
    leaf_hash: bytes
    batch: int


def _start(store: Path, key_file: Path, first: int) -> tuple[Run, threading.Thread]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(store), str(key_file), str(first)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    run = Run(proc)
    pump = threading.Thread(target=run.pump, daemon=True)
    pump.start()
    return run, pump


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = tmp_path / "store"
    log = TransparencyLog.create(store, ORIGIN)
    actor = keys.generate()
    key_file = tmp_path / "actor.pem"
    keys.write_private(key_file, actor)
    log.register_key("crash-writer", actor)
    vkey = log.vkey
    log.close()

    acked: dict[int, Acked] = {}  # by index
    acked_batches: dict[int, list[int]] = {}
    observed: set[str] = set()
    next_batch = 0
    kills = 0
    killed_while_appending = 0
    started = time.monotonic()

    for run_number in range(KILLS):
        run, pump = _start(store, key_file, next_batch)
        mode = rng.random()
        if mode < 0.2:
            # kill at a random moment, maybe before the store is even open
            time.sleep(rng.uniform(0.0, 0.4))
        else:
            # kill while appending: after 0..N acknowledgements, at a random moment
            assert run.first_ack.wait(30), run.proc.stderr.read() if run.proc.stderr else ""
            time.sleep(rng.uniform(0.0, 0.25))
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGKILL)
            kills += 1
        assert run.proc.wait(30) in (-signal.SIGKILL, 0), run.proc.stderr.read() if run.proc.stderr else ""
        pump.join(30)
        assert run.proc.stderr is not None
        stderr = run.proc.stderr.read()
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")

        for line in run.lines:
            if not line.endswith(b"\n") or b'"ready"' in line:
                continue  # a line cut by the kill was never acknowledged
            ack = json.loads(line)
            b = ack["batch"]
            assert b == next_batch, (run_number, b, next_batch)
            flags = {dup for _, _, dup in ack["entries"]}
            assert len(ack["entries"]) == batch_size(b)
            assert len(flags) == 1, f"batch {b} was partly in the log already: {ack}"
            if flags == {True}:
                # committed by the previous child, killed before it could acknowledge
                assert b not in acked_batches
            indexes = []
            for index, leaf_hex, _ in ack["entries"]:
                leaf_hash = bytes.fromhex(leaf_hex)
                prior = acked.get(index)
                assert prior is None or prior.leaf_hash == leaf_hash
                acked[index] = Acked(index, leaf_hash, b)
                indexes.append(index)
            assert indexes == list(range(indexes[0], indexes[0] + len(indexes)))
            acked_batches[b] = indexes
            observed.add(ack["checkpoint"])
            next_batch = b + 1
        if run.acks:
            killed_while_appending += 1

        # after each crash the store opens, holds every acknowledged entry, and serves a checkpoint
        reopened = TransparencyLog.open(store)
        try:
            size = reopened.size()
            assert size >= max(acked, default=0) + 1
            for a in acked.values():
                assert merkle.leaf_hash(reopened.entry(a.index)) == a.leaf_hash
            observed.add(reopened.checkpoint())
            assert checkpoint_of(reopened.checkpoint(), vkey).size == size
        finally:
            reopened.close()

    elapsed = time.monotonic() - started
    assert kills >= KILLS - 2, kills  # a child may rarely finish between the checks and the kill
    assert killed_while_appending >= KILLS // 2
    assert len(acked_batches) >= KILLS
    assert elapsed < 90

    final_log = TransparencyLog.open(store)
    try:
        # the store still accepts appends
        before = final_log.size()
        extra = final_log.append(envelopes(actor, 0, 5, "after-the-crashes"))
        assert extra.tree_size == before + 5
        observed.add(extra.checkpoint)
        final_size = final_log.size()
        final = checkpoint_of(final_log.checkpoint(), vkey)
        assert final.size == final_size

        # every acknowledged entry, at its index, provably in the final tree
        for a in acked.values():
            assert merkle.leaf_hash(final_log.entry(a.index)) == a.leaf_hash
            p = final_log.prove(a.index)
            merkle.verify_inclusion(a.index, final_size, a.leaf_hash, p.proof, final.root)

        # every checkpoint ever observed: stored verbatim, and a prefix of the final tree
        with final_log.reading() as r:
            stored = dict(r.checkpoints())
        for note in observed:
            cp = checkpoint_of(note, vkey)
            assert stored[cp.size] == note
            c = final_log.consistency(cp.size, final.size)
            merkle.verify_consistency(cp.size, final.size, cp.root, final.root, c.proof)

        # every batch all or nothing, no envelope twice, entries only from whole batches
        with final_log.reading() as r:
            leaves = list(r.entries(0, final_size))
        hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
        assert len(set(hashes)) == final_size
        statements = [json.loads(base64.b64decode(json.loads(leaf)["payload"])) for leaf in leaves[2:-5]]
        numbers = [st["predicate"]["n"] for st in statements]
        by_batch: dict[int, list[int]] = {}
        for n in numbers:
            by_batch.setdefault(n // 100, []).append(n % 100)
        for b, ks in by_batch.items():
            assert ks == list(range(batch_size(b))), (b, ks)
        assert sorted(by_batch) == list(range(len(by_batch)))  # batches in order, none lost
        assert set(acked_batches) <= set(by_batch)
    finally:
        final_log.close()

    db = sqlite3.connect(store / DB_FILE)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()

    report = audit_store(store, vkey)
    assert report.ok, report.problems[:5]
    assert report.tree_size == final_size
    reopened = TransparencyLog.open(store)
    try:
        write_export(reopened, tmp_path / "after-crashes.export")
    finally:
        reopened.close()
    exported = audit_export(tmp_path / "after-crashes.export", vkey)
    assert exported.ok, exported.problems[:5]
