"""Running a benchmark the way `make bench` does, at a tiny size, for the tests that keep each
area from breaking unseen until the next `make bench`. Figures are returned, never judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_bench(
    tmp_path: Path, *args: str, script: str = "bench/run.py", env: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """`SCRIPT ARGS --json FILE` with its cache in `tmp_path` and `env` added; it must exit 0, and
    every figure be a positive number. Its figures."""
    out = tmp_path / "figures.json"
    command = [sys.executable, script, *args, "--json", str(out)]
    environment = {**os.environ, "CHAINPROOF_BENCH_CACHE": str(tmp_path / "cache"), **(env or {})}
    result = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    figures: list[dict[str, Any]] = json.loads(out.read_text())["figures"]
    assert all(isinstance(f["value"], int | float) and f["value"] > 0 for f in figures), figures
    return figures
