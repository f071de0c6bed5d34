"""The benchmarks' one statistic: a quantile by nearest rank, so that a median of five rounds is
the third fastest and a p99 of a hundred samples the 99th."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _common import quantile


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0, 1.0, 3.0, 2.0, 4.0], 0.5, 3.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.0),
        ([float(v) for v in range(1, 101)], 0.99, 99.0),
        ([float(v) for v in range(1, 101)], 1.0, 100.0),
        ([7.0, 9.0], 0.0, 7.0),
        ([7.0], 0.5, 7.0),
    ],
)
def test_quantile_by_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == expected
