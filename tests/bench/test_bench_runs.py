"""The custody log's benchmarks run end to end at tiny sizes, so that a change to the code they
drive cannot leave them broken until the next `make bench`. Figures are not asserted: the
machines are noisy, and the targets belong to `make bench` on the reference machine."""

from __future__ import annotations

from pathlib import Path

from bench_support import run_bench

AREAS = ("build", "append", "proofs", "audit", "peer")


def test_the_log_benchmarks_run_and_report_every_area(tmp_path: Path) -> None:
    # The largest size is just over the audit's threshold for worker processes, so that its
    # parallel re-hash runs too.
    figures = run_bench(
        tmp_path, "--quick", "--sizes", "3000,140000", "--append-n", "5000", "--dsse-n", "200",
        "--peer-n", "3000", "--samples", "50", "--areas", ",".join(AREAS),
    )  # fmt: skip
    assert {f["area"] for f in figures} == set(AREAS)
    assert (tmp_path / "cache" / "raw-140000" / "log.db").is_file()  # the cache went where it was told


def test_the_custody_benchmark_runs_and_reports_every_figure(tmp_path: Path) -> None:
    figures = run_bench(
        tmp_path, "--quick", "--areas", "custody", env={"CHAINPROOF_BENCH_CUSTODY_HOPS": "3000"}
    )
    assert {f["area"] for f in figures} == {"custody"}
    assert len(figures) == 5
