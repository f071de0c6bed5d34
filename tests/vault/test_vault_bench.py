"""The vault benchmark runs end to end on a tiny dataset, so that a change to the code it drives
cannot leave it broken until the next `make bench`. Figures are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_vault_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    command = [sys.executable, "bench/run.py", "--quick", "--areas", "vault", "--json", str(out)]
    env = {
        **os.environ,
        "CHAINPROOF_BENCH_CACHE": str(tmp_path / "cache"),
        "CHAINPROOF_BENCH_VAULT_GB": "0.01",
    }
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    figures = json.loads(out.read_text())["figures"]
    assert {f["area"] for f in figures} == {"vault"}
    assert len(figures) == 7
    assert all(f["value"] > 0 for f in figures), figures
