"""Latency statistics of one query on one engine."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def nearest_rank(sorted_values: list[float], fraction: float) -> float:
    """Percentile by the nearest-rank method: always one of the measured values.

    With a handful of repetitions, interpolating between samples would report a
    latency that never happened; nearest rank keeps p95 honest (with 10 samples it
    is the maximum, and says so).
    """
    if not sorted_values:
        raise ValueError("no values to take a percentile of")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rank = math.ceil(fraction * len(sorted_values))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class LatencyStats:
    min_ms: float
    median_ms: float
    p95_ms: float
    repetitions: int

    @classmethod
    def from_seconds(cls, durations: list[float]) -> LatencyStats:
        if not durations:
            raise ValueError("no timed repetitions: need at least one to compute latency statistics")
        ms = sorted(d * 1000.0 for d in durations)
        return cls(
            min_ms=ms[0],
            median_ms=statistics.median(ms),
            p95_ms=nearest_rank(ms, 0.95),
            repetitions=len(ms),
        )
