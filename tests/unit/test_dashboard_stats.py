"""Latency statistics: min, median and nearest-rank p95 of the timed repetitions."""

from __future__ import annotations

import pytest

from kafka_elt.dashboard.stats import LatencyStats, nearest_rank


def test_stats_in_milliseconds_from_seconds():
    stats = LatencyStats.from_seconds([0.004, 0.001, 0.003, 0.002, 0.010])
    assert stats.min_ms == pytest.approx(1.0)
    assert stats.median_ms == pytest.approx(3.0)
    assert stats.p95_ms == pytest.approx(10.0)  # 5 samples: rank ceil(4.75) = 5, the maximum
    assert stats.repetitions == 5


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert LatencyStats.from_seconds([0.001, 0.002, 0.003, 0.004]).median_ms == pytest.approx(2.5)


def test_p95_is_a_measured_value_never_an_interpolation():
    values = [float(v) for v in range(1, 101)]  # 1..100 ms
    assert nearest_rank(values, 0.95) == 95.0
    assert nearest_rank(values[:20], 0.95) == 19.0  # rank ceil(19.0) = 19
    assert nearest_rank(values[:21], 0.95) == 20.0  # rank ceil(19.95) = 20
    assert nearest_rank([7.0], 0.95) == 7.0


def test_single_repetition():
    stats = LatencyStats.from_seconds([0.5])
    assert (stats.min_ms, stats.median_ms, stats.p95_ms) == (500.0, 500.0, 500.0)


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.1])
def test_nearest_rank_rejects_fractions_outside_0_1(bad):
    with pytest.raises(ValueError, match="fraction"):
        nearest_rank([1.0, 2.0], bad)


def test_no_repetitions_is_an_error_not_zero():
    with pytest.raises(ValueError, match="at least one"):
        LatencyStats.from_seconds([])
