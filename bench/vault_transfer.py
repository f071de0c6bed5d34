"""The data vault over loopback: `chainproof data push` and `data pull` of a dataset against a real
`chainproof serve --vault-key`, beside a plain file copy (`shutil.copytree`) of the same files.

The dataset (CHAINPROOF_BENCH_VAULT_GB, default 2; `--quick` 0.1) is made once under
bench/.cache/vault-data-<GB>/ from random bytes: four large files holding 80 % of it, 64 medium
ones and 2,000 small ones. Every file is read once before each contender, so the page cache is
warm for all of them. Measured: the copy (median of five rounds: it is quick, and its speed
swings with the page cache's state); a push into a fresh store (the manifest's hashing
included: push hashes before it sends); a pull into a fresh directory (the client's checks
included: every file's SHA-256, the manifest's root, two inclusion proofs). Bytes/s of each, the
ratio to the copy's (target >= 0.5x, issue 17), and the peak RSS of the client process and of
the server (memory flat: it should not grow with the dataset).

    .venv/bin/python bench/vault_transfer.py [--quick]
    CHAINPROOF_BENCH_VAULT_GB=0.5 .venv/bin/python bench/run.py --areas vault
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _common as c
from chainproof.attest import keys
from chainproof.custody import build
from chainproof.custody.hops import Hop
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody
from chainproof.log.service import TransparencyLog

AREA = "vault"
TARGET = 0.5
COPY_ROUNDS = 5
MiB = 1 << 20
_CLI = [sys.executable, "-m", "chainproof"]


def _size_gb(cfg: c.Config) -> float:
    raw = os.environ.get("CHAINPROOF_BENCH_VAULT_GB")
    return float(raw) if raw else (0.1 if cfg.quick else 2.0)


def _dataset(gb: float) -> Path:
    """The dataset, made once: 4 large files (80 %), 64 medium (15 %), 2,000 small (5 %)."""
    total = int(gb * (1 << 30))
    path = c.CACHE / f"vault-data-{gb:g}"
    done = path / ".complete"
    if done.exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    rng = random.Random(20_261_208)
    sizes = [
        ("large", total * 8 // 10 // 4, 4),
        ("medium", total * 15 // 100 // 64, 64),
        ("small", total * 5 // 100 // 2000, 2000),
    ]
    c.say(f"making a {gb:g} GB dataset in {path}")
    for kind, size, count in sizes:
        for i in range(count):
            target = path / kind / f"{i % 20:02d}" / f"{kind}-{i:05d}.bin"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as f:
                left = max(1, size + rng.randint(-size // 10, size // 10))
                while left > 0:
                    n = min(left, 8 * MiB)
                    f.write(os.urandom(n))
                    left -= n
    done.write_text("")
    return path


def _warm(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                while chunk := f.read(8 * MiB):
                    total += len(chunk)
    return total


def _store(work: Path, root: str) -> Path:
    """A store with alice (recorder, pushes) and bob (contractor, granted the dataset); alice's
    and bob's key files beside it."""
    log = TransparencyLog.create(work / "store", "bench.example/vault")
    custody = Custody(log)
    try:
        admin, _ = log.admin_key()
        made = {}
        for name, role in (("alice", "recorder"), ("bob", "contractor")):
            key = made[name] = keys.generate()
            keys.write_private(work / f"{name}.pem", key)
            log.register_key(name, key)
            custody.add_actor(
                name, role=role, organisation="bench", keyid=keys.keyid(key.public_key()), admin=admin
            )
        custody.record(Hop.INGEST, made["alice"], outputs=[Digest(root)])
        custody.grant("bob", Digest(root), purpose="bench", expires="2999-01-01T00:00:00Z", key=made["alice"])
    finally:
        custody.close()
    return work / "store"


def _peak_rss_mb(pid: int) -> float:
    """A live process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _timed_cli(args: list[str], work: Path) -> tuple[float, float, dict[str, object]]:
    """Run a chainproof command; its seconds, its own peak RSS (MB) and its JSON."""
    out_file, err_file = work / "cli.out", work / "cli.err"
    t0 = time.perf_counter()
    with out_file.open("wb") as out, err_file.open("wb") as err:
        process = subprocess.Popen(
            [*_CLI, *args, "--json"], stdout=out, stderr=err, env={**os.environ, "CHAINPROOF_HOME": str(work)}
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - t0
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:6])} failed: {err_file.read_text()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, json.loads(out_file.read_bytes())


def measure(cfg: c.Config) -> list[c.Figure]:
    gb = _size_gb(cfg)
    data = _dataset(gb)
    root = build(data).digest
    work = c.fresh_dir("vault")
    total = _warm(data)
    c.say(f"vault: {total / 1e9:.2f} GB in {sum(1 for p in data.rglob('*') if p.is_file())} files")

    copies = []
    for _ in range(COPY_ROUNDS):  # the copy is quick and noisy (the page cache's state): a median
        t0 = time.perf_counter()
        shutil.copytree(data, work / "copy")
        copies.append(time.perf_counter() - t0)
        shutil.rmtree(work / "copy")
    copy_s = statistics.median(copies)

    store = _store(work, root)
    vault_key = work / "vault.key"
    subprocess.run([*_CLI, "vault", "keygen", str(vault_key)], check=True, capture_output=True)
    with c.serving(
        store, work, "--vault-key", str(vault_key), env={**os.environ, "CHAINPROOF_HOME": str(work)}
    ) as (url, pid):
        _warm(data)
        push_s, push_rss, pushed = _timed_cli(
            ["--store", url, "--key", str(work / "alice.pem"), "data", "push", str(data)], work
        )
        assert pushed["root"] == root, pushed
        pull_s, pull_rss, pulled = _timed_cli(
            ["--store", url, "--key", str(work / "bob.pem"), "data", "pull", root, str(work / "pulled")], work
        )
        assert pulled["verified"] is True
        server_rss = _peak_rss_mb(pid)
    shutil.rmtree(work, ignore_errors=True)
    rate = lambda s: total / s / 1e6  # noqa: E731
    note = f"{gb:g} GB, loopback"
    return [
        c.Figure(
            AREA,
            "plain copy (shutil.copytree), median",
            rate(copy_s),
            "MB/s",
            note=f"{note}; {COPY_ROUNDS} rounds {', '.join(f'{rate(x):.0f}' for x in copies)} MB/s",
        ),
        c.Figure(AREA, "push (hash + send + seal + store)", rate(push_s), "MB/s", note=note),
        c.Figure(AREA, "push / copy", rate(push_s) / rate(copy_s), "x", target=TARGET),
        c.Figure(AREA, "pull (fetch + unseal + check + place)", rate(pull_s), "MB/s", note=note),
        c.Figure(AREA, "pull / copy", rate(pull_s) / rate(copy_s), "x", target=TARGET),
        c.Figure(
            AREA,
            "client peak RSS (push, pull)",
            max(push_rss, pull_rss),
            "MB",
            note=f"push {push_rss:.0f}, pull {pull_rss:.0f}",
        ),
        c.Figure(AREA, "server peak RSS", server_rss, "MB", note=note),
    ]


if __name__ == "__main__":
    c.standalone(__doc__ or "", measure)
