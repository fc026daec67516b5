"""Benchmark one dashboard query on every engine: warm-up, timed repetitions, comparison."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka_elt.dashboard.compare import Comparison, QueryResult, compare_results
from kafka_elt.dashboard.engines import Engine
from kafka_elt.dashboard.queries import DashboardQuery
from kafka_elt.dashboard.stats import LatencyStats

log = logging.getLogger(__name__)


class QueryFailed(RuntimeError):
    """A dashboard query raised on one engine; the message names the query and engine."""


@dataclass(frozen=True)
class EngineRun:
    engine: str
    stats: LatencyStats
    result: QueryResult


@dataclass(frozen=True)
class QueryBenchmark:
    query: DashboardQuery
    runs: dict[str, EngineRun]
    comparison: Comparison

    def disagreement(self) -> str:
        engines = " and ".join(self.runs)
        return f"dashboard query {self.query.name!r}: {engines} disagree\n{self.comparison.diff}"


def _run(engine: Engine, query: DashboardQuery, params: dict[str, Any]) -> tuple[float, QueryResult]:
    try:
        return engine.run(query.sql[engine.name], query.params_for(engine.name, params))
    except KeyError:
        raise
    except Exception as exc:
        raise QueryFailed(
            f"dashboard query {query.name!r} failed on {engine.name}: {exc}. Its SQL is "
            f"include/sql/dashboard/{query.name}[.{engine.name}].sql; check that the marts it reads exist "
            f"(dbt build --target {engine.name})."
        ) from exc


def _check_args(engines: Sequence[Engine], warmups: int, repetitions: int) -> None:
    if repetitions < 1:
        raise ValueError(f"repetitions must be at least 1, got {repetitions}")
    if warmups < 0:
        raise ValueError(f"warmups cannot be negative, got {warmups}")
    if len(engines) < 2:
        raise ValueError("comparing engines needs at least two")


def _compare(engines: Sequence[Engine], results: dict[str, QueryResult]) -> Comparison:
    """The first engine's answer against each other's; the first disagreement found."""
    first = engines[0].name
    for other in engines[1:]:
        comparison = compare_results(first, results[first], other.name, results[other.name])
        if not comparison.agree:
            return comparison
    return Comparison(agree=True)


def benchmark_query(
    query: DashboardQuery,
    engines: Sequence[Engine],
    *,
    warmups: int,
    repetitions: int,
    params: dict[str, Any] | None = None,
) -> QueryBenchmark:
    """Time ``query`` on each engine and compare the answers.

    Warm-ups fill caches (and make the first, cold run not count). Repetitions alternate
    the engines and reverse their order every round, so neither always runs right after
    the other has warmed a shared CPU cache or disk page.
    """
    _check_args(engines, warmups, repetitions)
    params = params or {}
    for engine in engines:
        for _ in range(warmups):
            _run(engine, query, params)

    timings: dict[str, list[float]] = {e.name: [] for e in engines}
    results: dict[str, QueryResult] = {}
    for rep in range(repetitions):
        for engine in engines if rep % 2 == 0 else list(reversed(engines)):
            elapsed, result = _run(engine, query, params)
            timings[engine.name].append(elapsed)
            # Keep the first timed answer; later ones only differ if data changed mid-run.
            results.setdefault(engine.name, result)

    runs = {
        e.name: EngineRun(e.name, LatencyStats.from_seconds(timings[e.name]), results[e.name])
        for e in engines
    }
    comparison = _compare(engines, results)
    for run in runs.values():
        log.info(
            "%-28s %-10s min %8.2f ms  median %8.2f ms  p95 %8.2f ms  rows %6d",
            query.name, run.engine, run.stats.min_ms, run.stats.median_ms, run.stats.p95_ms,
            len(run.result.rows),
        )  # fmt: skip
    return QueryBenchmark(query=query, runs=runs, comparison=comparison)
