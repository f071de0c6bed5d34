"""The dataset-manifest benchmark runs end to end on its small dataset (model-signing left out:
installing it needs the network), so that a change to the code it drives cannot leave it broken
until the next `make bench`. Figures are not asserted."""

from __future__ import annotations

from pathlib import Path

from bench_support import run_bench


def test_the_manifest_benchmark_runs(tmp_path: Path) -> None:
    figures = run_bench(tmp_path, "--quick", script="bench/manifest.py", env={"CHAINPROOF_BENCH_PEERS": "0"})
    assert {f["area"] for f in figures} == {"manifest"}
    assert "model-signing skipped" in figures[0]["note"]
    assert (tmp_path / "cache" / "manifest-data-quick" / "weights").is_dir()
