"""Live freshness: ages against now, formatting, the cheap queries, and engines that fail
or hang showing as unavailable instead of failing the page."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from kafka_elt.dashboard import live_freshness as lf
from kafka_elt.dashboard.engines import EngineUnavailable
from kafka_elt.dashboard.live_freshness import (
    TARGETS,
    Observation,
    describe,
    format_age,
    format_duration,
    format_gap,
    freshness_row,
    queries,
    read_live_freshness,
    read_target,
)

NOW = dt.datetime(2025, 5, 19, 12, 0, 0, tzinfo=dt.UTC)
CANDLES, FOOTPRINTS = TARGETS


def ago(seconds: float) -> dt.datetime:
    return NOW - dt.timedelta(seconds=seconds)


class FakeEngine:
    """Answers the raw query and the mart query of each target from a table of rows,
    keyed by the relation the SQL reads; raises for relations listed in ``failing``."""

    def __init__(self, name: str, answers: dict[str, tuple], failing: dict[str, Exception] | None = None):
        self.name, self.answers, self.failing = name, answers, failing or {}
        self.closed = False
        self.sql: list[str] = []

    def fetch(self, sql: str) -> list[tuple]:
        self.sql.append(sql)
        for relation, exc in self.failing.items():
            if f"from {relation}" in sql:
                raise exc
        for relation, row in self.answers.items():
            if f"from {relation}" in sql:
                return [row]
        raise AssertionError(f"unexpected SQL: {sql}")

    def close(self) -> None:
        self.closed = True


def healthy(name: str, *, naive: bool = False) -> FakeEngine:
    def ts(seconds):
        value = ago(seconds)
        return value.replace(tzinfo=None) if naive else value  # ClickHouse hands back naive UTC

    return FakeEngine(
        name,
        {
            "raw.market_candle": (ts(5), ts(2)),
            "analytics.market_candle": (ts(12),),
            "raw.web_logs": (ts(30), ts(20)),
            "analytics.user_footprint": (ts(330),),
        },
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0 s"),
        (12.4, "12 s"),
        (89, "89 s"),
        (90, "1 min"),
        (59 * 60 + 59, "59 min"),
        (89 * 60, "89 min"),
        (90 * 60, "1 h 30 min"),
        (47 * 3600 + 5 * 60, "47 h 5 min"),
        (48 * 3600, "2 d 0 h"),
        (400 * 86400 + 3 * 3600, "400 d 3 h"),
        (-3, "0 s"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_age_and_gap():
    assert format_age(12.3) == "12 s ago"
    assert format_age(None) == "\u2013"
    assert format_age(-0.4) == "0 s ago"  # clock noise, not the future
    assert format_age(-120) == "2 min in the future (clock skew?)"
    assert format_gap(0.0) == "0 s"
    assert format_gap(300) == "5 min"
    assert format_gap(-30) == "mart ahead by 30 s"
    assert format_gap(None) == "\u2013"


def test_row_has_ages_against_now_and_the_dbt_lag():
    row = freshness_row(
        "clickhouse",
        CANDLES,
        Observation(raw_newest_kafka_at=ago(5), raw_last_ingested_at=ago(2), mart_newest_event_at=ago(12)),
        NOW,
    )
    assert row["status"] == "ok"
    assert row["mart"] == "market_candle" and row["event_column"] == "updated_at"
    assert row["mart_event_age_seconds"] == 12.0
    assert row["raw_newest_age_seconds"] == 5.0 and row["raw_ingested_age_seconds"] == 2.0
    assert row["mart_behind_raw_seconds"] == 7.0
    assert row["mart_newest_event_at"] == "2025-05-19T11:59:48+00:00"
    assert row["summary"] == "market_candle on ClickHouse: newest event 12 s ago"
    assert row["error"] is None


def test_empty_mart_and_unreadable_mart():
    empty = freshness_row("postgres", FOOTPRINTS, Observation(raw_newest_kafka_at=ago(1)), NOW)
    assert empty["status"] == "empty"
    assert empty["mart_event_age_seconds"] is None and empty["mart_behind_raw_seconds"] is None
    assert describe(empty) == "user_footprint on PostgreSQL: no rows yet"

    broken = freshness_row(
        "postgres",
        FOOTPRINTS,
        Observation(raw_newest_kafka_at=ago(1), mart_error="analytics.user_footprint: UndefinedTable: x"),
        NOW,
    )
    assert broken["status"] == "unavailable"
    assert broken["raw_newest_age_seconds"] == 1.0  # the raw side still shows
    assert broken["summary"] == (
        "user_footprint on PostgreSQL: unavailable (analytics.user_footprint: UndefinedTable: x)"
    )


def test_event_columns_are_the_kafka_timestamps():
    assert {t.mart_name: t.event_column for t in TARGETS} == {
        "market_candle": "updated_at",
        "user_footprint": "produced_at",
    }
    assert {t.mart_name: t.raw_table for t in TARGETS} == {
        "market_candle": "raw.market_candle",
        "user_footprint": "raw.web_logs",
    }


def test_postgres_queries_walk_indexes_instead_of_scanning():
    for target in TARGETS:
        raw_sql, mart_sql = queries("postgres", target)
        # The raw table: the newest offset of each partition, on the primary key.
        assert "order by t.kafka_offset desc" in raw_sql and "limit 1" in raw_sql
        assert "from raw.market_candle" in raw_sql or "from raw.web_logs" in raw_sql
        assert "max(head." in raw_sql
        # The mart: max() of the event column, which the dbt model indexes.
        assert mart_sql == f"select max({target.event_column}) from {target.mart}"


def test_postgres_marts_index_their_event_columns():
    root = Path(__file__).resolve().parents[2] / "dbt" / "models" / "marts" / "core"
    for target in TARGETS:
        model = (root / f"{target.mart_name}.sql").read_text()
        assert f"{{'columns': ['{target.event_column}']}}" in model, target.mart_name


def test_clickhouse_queries_use_max_or_null():
    raw_sql, mart_sql = queries("clickhouse", FOOTPRINTS)
    assert raw_sql == (
        "select maxOrNull(kafka_timestamp) as kafka_timestamp, maxOrNull(ingested_at) as ingested_at "
        "from raw.web_logs"
    )
    assert mart_sql == "select maxOrNull(produced_at) as produced_at from analytics.user_footprint"
    with pytest.raises(ValueError, match="unknown engine"):
        queries("duckdb", FOOTPRINTS)


def test_read_target_treats_naive_timestamps_as_utc_and_isolates_failures():
    engine = healthy("clickhouse", naive=True)
    observation = read_target(engine, CANDLES)
    assert observation.mart_newest_event_at == ago(12)
    assert observation.raw_newest_kafka_at == ago(5)

    failing = FakeEngine(
        "clickhouse",
        {"raw.web_logs": (ago(30), ago(20))},
        failing={
            "analytics.user_footprint": RuntimeError("Table analytics.user_footprint does not exist\nmore")
        },
    )
    observation = read_target(failing, FOOTPRINTS)
    assert observation.raw_newest_kafka_at == ago(30)
    assert observation.mart_error == (
        "analytics.user_footprint: RuntimeError: Table analytics.user_footprint does not exist"
    )


def test_short_error_is_one_bounded_line():
    assert lf.short_error(ValueError("")) == "ValueError"
    assert lf.short_error(EngineUnavailable("cannot connect to X")) == "cannot connect to X"
    long = lf.short_error(RuntimeError("x" * 1000))
    assert len(long) == lf.MAX_ERROR_CHARS and long.endswith("\u2026")


def test_both_engines_read_and_closed():
    engines = {"postgres": healthy("postgres"), "clickhouse": healthy("clickhouse", naive=True)}
    live = read_live_freshness({name: (lambda e=e: e) for name, e in engines.items()}, clock=lambda: NOW)
    assert live["checked_at"] == NOW.isoformat()
    assert [e["available"] for e in live["engines"]] == [True, True]
    assert all(e.closed for e in engines.values())
    summaries = [r["summary"] for r in live["rows"]]
    assert summaries == [
        "market_candle on PostgreSQL: newest event 12 s ago",
        "user_footprint on PostgreSQL: newest event 5 min ago",
        "market_candle on ClickHouse: newest event 12 s ago",
        "user_footprint on ClickHouse: newest event 5 min ago",
    ]
    assert live["event_columns"]["user_footprint"]["column"] == "produced_at"


def test_an_engine_that_is_down_is_reported_not_raised():
    def down():
        raise EngineUnavailable(
            "cannot connect to ClickHouse through Airflow connection 'warehouse_clickhouse'"
        )

    live = read_live_freshness(
        {"postgres": lambda: healthy("postgres"), "clickhouse": down}, clock=lambda: NOW
    )
    by_engine = {e["engine"]: e for e in live["engines"]}
    assert by_engine["postgres"]["available"] is True
    assert by_engine["clickhouse"]["available"] is False
    assert "warehouse_clickhouse" in by_engine["clickhouse"]["error"]
    ch_rows = [r for r in live["rows"] if r["engine"] == "clickhouse"]
    assert [r["status"] for r in ch_rows] == ["unavailable", "unavailable"]
    assert all(r["error"] == by_engine["clickhouse"]["error"] for r in ch_rows)  # said once, not twice
    assert all(r["status"] == "ok" for r in live["rows"] if r["engine"] == "postgres")


def test_an_engine_that_hangs_is_cut_off_at_the_deadline():
    release = threading.Event()

    def hangs():
        release.wait(10)
        return healthy("clickhouse")

    started = time.monotonic()
    try:
        live = read_live_freshness(
            {"postgres": lambda: healthy("postgres"), "clickhouse": hangs}, deadline_s=0.3, clock=lambda: NOW
        )
    finally:
        release.set()
    assert time.monotonic() - started < 3
    by_engine = {e["engine"]: e for e in live["engines"]}
    assert by_engine["clickhouse"] == {
        "engine": "clickhouse",
        "engine_label": "ClickHouse",
        "available": False,
        "error": "no answer within 0.3 s",
        "elapsed_ms": None,
    }
    assert by_engine["postgres"]["available"] is True
