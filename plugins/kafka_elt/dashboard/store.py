"""The results tables in PostgreSQL schema ``monitoring`` (see
``include/sql/postgres/monitoring.sql``): create them, and write one run's figures.

Every write is an upsert keyed by the run id, so a retried task replaces its own rows
and never doubles them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path

from kafka_elt.dashboard.runner import QueryBenchmark
from kafka_elt.dashboard.snapshot import Freshness, MartChecksum
from kafka_elt.settings import SQL_DIR

MONITORING_SQL = SQL_DIR / "postgres" / "monitoring.sql"


def apply_schema(conn, path: Path = MONITORING_SQL) -> None:
    """Create the tables and (re)create the views; safe to run before every run."""
    with conn.transaction():
        conn.execute(path.read_text())


def save_benchmark(
    conn,
    *,
    run_id: str,
    run_at: dt.datetime,
    benchmark: QueryBenchmark,
    warmups: int,
    mart_sizes: dict[str, dict[str, int]],
    build_id: str | None = None,
) -> None:
    """One row per engine for ``benchmark.query``; ``mart_sizes`` is engine -> mart -> rows;
    ``build_id`` the dbt build both engines held while the query ran."""
    rows = [
        (
            run_id, run_at, benchmark.query.name, engine, run.stats.min_ms, run.stats.median_ms,
            run.stats.p95_ms, len(run.result.rows), run.stats.repetitions, warmups,
            json.dumps(mart_sizes.get(engine, {}), sort_keys=True), run.result.hash, benchmark.comparison.agree,
            build_id,
        )
        for engine, run in benchmark.runs.items()
    ]  # fmt: skip
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into monitoring.benchmark_result (
                run_id, run_at, query_name, engine, min_ms, median_ms, p95_ms, rows_returned,
                repetitions, warmups, mart_sizes, result_hash, engines_agree, build_id
            ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (run_id, query_name, engine) do update set
                run_at = excluded.run_at, min_ms = excluded.min_ms, median_ms = excluded.median_ms,
                p95_ms = excluded.p95_ms, rows_returned = excluded.rows_returned,
                repetitions = excluded.repetitions, warmups = excluded.warmups,
                mart_sizes = excluded.mart_sizes, result_hash = excluded.result_hash,
                engines_agree = excluded.engines_agree, build_id = excluded.build_id, recorded_at = now()
            """,
            rows,
        )


def save_checksums(
    conn,
    *,
    run_id: str,
    taken_at: dt.datetime,
    checksums: Iterable[MartChecksum],
    build_id: str | None = None,
) -> None:
    """``build_id``: the dbt build both engines held while the checksums were read."""
    rows = [(run_id, taken_at, c.mart_name, c.engine, c.row_count, c.checksum, build_id) for c in checksums]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into monitoring.mart_checksum (run_id, taken_at, mart_name, engine, row_count, checksum, build_id)
            values (%s, %s, %s, %s, %s, %s, %s)
            on conflict (run_id, mart_name, engine) do update set
                taken_at = excluded.taken_at, row_count = excluded.row_count, checksum = excluded.checksum,
                build_id = excluded.build_id
            """,
            rows,
        )


def save_freshness(conn, *, run_id: str, taken_at: dt.datetime, freshness: Iterable[Freshness]) -> None:
    rows = [
        (run_id, taken_at, f.engine, f.raw_table, f.mart_name, f.raw_newest_kafka_at, f.mart_newest_kafka_at)
        for f in freshness
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            insert into monitoring.freshness (
                run_id, taken_at, engine, raw_table, mart_name, raw_newest_kafka_at, mart_newest_kafka_at
            ) values (%s, %s, %s, %s, %s, %s, %s)
            on conflict (run_id, engine, raw_table, mart_name) do update set
                taken_at = excluded.taken_at, raw_newest_kafka_at = excluded.raw_newest_kafka_at,
                mart_newest_kafka_at = excluded.mart_newest_kafka_at
            """,
            rows,
        )
