"""The dataset-manifest benchmark runs end to end on its small dataset (model-signing left out:
installing it needs the network), so that a change to the code it drives cannot leave it broken
until the next `make bench`. Figures are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_manifest_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    command = [sys.executable, "bench/manifest.py", "--quick", "--json", str(out)]
    env = {**os.environ, "CHAINPROOF_BENCH_CACHE": str(tmp_path / "cache"), "CHAINPROOF_BENCH_PEERS": "0"}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    figures = json.loads(out.read_text())["figures"]
    assert {f["area"] for f in figures} == {"manifest"}
    assert all(f["value"] > 0 for f in figures), figures
    assert "model-signing skipped" in figures[0]["note"]
    assert (tmp_path / "cache" / "manifest-data-quick" / "weights").is_dir()
