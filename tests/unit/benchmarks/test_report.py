from __future__ import annotations

import pytest

from benchmarks.report import percentile, summary

pytestmark = pytest.mark.unit


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5, 1, 3], 0) == 1
    assert percentile([5, 1, 3], 100) == 5
    assert percentile(list(range(101)), 95) == 95


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_summary() -> None:
    assert summary([1.0, 2.0, 3.0, 10.0]) == {"p50": 2.5, "p95": 8.95, "mean": 4.0, "n": 4}
