"""What the Engine comparison page shows, read from the results views in ``monitoring``.

Only stored results are read: a page load never runs a benchmark query. The same dict
is the page's JSON API and the input of the HTML renderer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from kafka_elt.dashboard.queries import query_titles
from kafka_elt.transform.findings import RECENT_SQL as RECENT_WARNINGS_SQL

_VIEWS = {
    "last_run": "select * from monitoring.benchmark_last_run",
    "latency": "select * from monitoring.engine_latency_ratio order by query_name",
    "agreement": "select * from monitoring.mart_agreement order by mart_name",
    "freshness": "select * from monitoring.data_freshness order by raw_table, mart_name, engine",
}
# Median latency of the last runs, oldest first: the page's trend column.
_HISTORY = """
    select query_name, engine, run_id, run_at, median_ms
    from (
        select
            query_name, engine, run_id, run_at, median_ms,
            dense_rank() over (order by run_at desc, run_id desc) as run_rank
        from monitoring.benchmark_result
    ) as ranked
    where run_rank <= %(runs)s
    order by query_name, engine, run_at, run_id
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(cur, sql: str, params: dict | None = None) -> list[dict[str, Any]]:
    cur.execute(sql, params)
    names = [d.name for d in cur.description]
    return [{n: _jsonable(v) for n, v in zip(names, row, strict=True)} for row in cur.fetchall()]


def _warnings(cur) -> list[dict[str, Any]]:
    """dbt tests that warned in the last day (none until dbt_marts has stored one)."""
    cur.execute("select to_regclass('monitoring.dbt_test_warning') is not null")
    (exists,) = cur.fetchone()
    return _rows(cur, RECENT_WARNINGS_SQL) if exists else []


def load_page_data(conn, history_runs: int = 10) -> dict[str, Any]:
    """Everything the page shows; ``has_results`` is false until the benchmark has run."""
    with conn.cursor() as cur:
        cur.execute("select to_regclass('monitoring.engine_latency_ratio') is not null")
        (ready,) = cur.fetchone()
        if not ready:
            return {
                "has_results": False,
                "last_run": None,
                "latency": [],
                "agreement": [],
                "freshness": [],
                "warnings": _warnings(cur),
            }
        data: dict[str, Any] = {name: _rows(cur, sql) for name, sql in _VIEWS.items()}
        history = _rows(cur, _HISTORY, {"runs": history_runs})
        data["warnings"] = _warnings(cur)
    titles = query_titles()
    trend: dict[tuple[str, str], list[float]] = {}
    for h in history:
        trend.setdefault((h["query_name"], h["engine"]), []).append(h["median_ms"])
    for row in data["latency"]:
        row["question"] = titles.get(row["query_name"], row["query_name"])
        row["postgres_trend_ms"] = trend.get((row["query_name"], "postgres"), [])
        row["clickhouse_trend_ms"] = trend.get((row["query_name"], "clickhouse"), [])
    data["last_run"] = data["last_run"][0] if data["last_run"] else None
    data["has_results"] = data["last_run"] is not None
    return data
