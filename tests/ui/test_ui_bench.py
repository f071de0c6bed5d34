"""The web UI's benchmark (the lineage view of a model with 1,000 inputs, in Chromium) runs end
to end (a quick run), so that a change to the page or the code it drives cannot leave it broken
until the next `make bench`. Its figures are printed, never asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench_support import run_bench


@pytest.mark.usefixtures("needs_browser")
def test_the_ui_benchmark_runs(tmp_path: Path) -> None:
    figures = run_bench(tmp_path, "--quick", "--areas", "ui")
    assert {f["area"] for f in figures} == {"ui"}
