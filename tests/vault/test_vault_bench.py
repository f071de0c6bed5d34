"""The vault benchmark runs end to end on a tiny dataset, so that a change to the code it drives
cannot leave it broken until the next `make bench`. Figures are not asserted."""

from __future__ import annotations

from pathlib import Path

from bench_support import run_bench


def test_the_vault_benchmark_runs(tmp_path: Path) -> None:
    figures = run_bench(tmp_path, "--quick", "--areas", "vault", env={"CHAINPROOF_BENCH_VAULT_GB": "0.01"})
    assert {f["area"] for f in figures} == {"vault"}
    assert len(figures) == 7
