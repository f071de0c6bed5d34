"""The custody log's benchmarks run end to end at tiny sizes, so that a change to the code they
drive cannot leave them broken until the next `make bench`. Figures are not asserted: the
machines are noisy, and the targets belong to `make bench` on the reference machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AREAS = ("build", "append", "proofs", "audit", "peer")


def test_the_log_benchmarks_run_and_report_every_area(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    # The largest size is just over the audit's threshold for worker processes, so that its
    # parallel re-hash runs too.
    command = [
        sys.executable, "bench/run.py", "--quick", "--sizes", "3000,140000", "--append-n", "5000",
        "--dsse-n", "200", "--peer-n", "3000", "--samples", "50", "--areas", ",".join(AREAS),
        "--json", str(out),
    ]  # fmt: skip
    env = {**os.environ, "CHAINPROOF_BENCH_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    figures = json.loads(out.read_text())["figures"]
    assert {f["area"] for f in figures} == set(AREAS)
    assert all(isinstance(f["value"], int | float) and f["value"] > 0 for f in figures), figures
    assert (tmp_path / "cache" / "raw-140000" / "log.db").is_file()  # the cache went where it was told


def test_the_custody_benchmark_runs_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    command = [sys.executable, "bench/run.py", "--quick", "--areas", "custody", "--json", str(out)]
    env = {
        **os.environ,
        "CHAINPROOF_BENCH_CACHE": str(tmp_path / "cache"),
        "CHAINPROOF_BENCH_CUSTODY_HOPS": "3000",
    }
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    figures = json.loads(out.read_text())["figures"]
    assert {f["area"] for f in figures} == {"custody"}
    assert len(figures) == 5
    assert all(isinstance(f["value"], int | float) and f["value"] > 0 for f in figures), figures
