"""The witness benchmark runs end to end (a quick run), so that a change to what it drives cannot
leave it broken until the next `make bench`. Its figures are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

from bench_support import run_bench


def test_the_witness_benchmark_runs(tmp_path: Path) -> None:
    figures = run_bench(tmp_path, "--quick", "--areas", "witness")
    assert {f["area"] for f in figures} == {"witness"}
    assert len(figures) == 4
