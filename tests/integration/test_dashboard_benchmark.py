"""The dashboard_benchmark DAG, end to end on the local stack (``dag.test()``).

It runs every dashboard query against the real PostgreSQL and ClickHouse marts and
writes results for every query and both engines; when the engines answer differently,
the query's task fails and its log shows the differing rows.

``dag.test()`` runs in a subprocess with the stack's environment: Airflow reads its
configuration (metadata DB, connections) once per process, at import.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "dashboard_benchmark.py"
ENGINES = ("postgres", "clickhouse")

_RUN_DAG = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("dashboard_benchmark_dag", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.dashboard_benchmark_dag.test(run_conf=json.loads(sys.argv[2]))
print("DAG_RUN_RESULT " + json.dumps({"run_id": run.run_id, "state": str(run.state)}))
"""


def _pg(stack):
    from kafka_elt.stack import postgres

    conn = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    conn.autocommit = True
    return conn


def _fetch_dicts(stack, sql: str, params: tuple = ()) -> list[dict]:
    conn = _pg(stack)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            names = [d.name for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def latest_latency(stack) -> list[dict]:
    """monitoring.engine_latency_ratio (the latest run), or [] before any run."""
    if not _fetch_dicts(stack, "select to_regclass('monitoring.engine_latency_ratio') is not null as ok")[0][
        "ok"
    ]:
        return []
    return _fetch_dicts(stack, "select * from monitoring.engine_latency_ratio order by query_name")


def run_results(stack, run_id: str) -> list[dict]:
    """monitoring.benchmark_result rows of one run."""
    return _fetch_dicts(stack, "select * from monitoring.benchmark_result where run_id = %s", (run_id,))


def _marts_ready(stack) -> bool:
    from kafka_elt.stack import clickhouse

    if not _fetch_dicts(stack, "select to_regclass('analytics.mart_checksums') is not null as ok")[0]["ok"]:
        return False
    pg_rows = _fetch_dicts(stack, "select coalesce(sum(row_count), 0) as n from analytics.mart_checksums")[0][
        "n"
    ]
    ch = clickhouse.client(stack)
    try:
        if not ch.command("exists table analytics.mart_checksums"):
            return False
        ch_rows = ch.query("select sum(row_count) from analytics.mart_checksums").result_rows[0][0]
    finally:
        ch.close()
    return pg_rows > 0 and ch_rows > 0


def ensure_marts(stack) -> None:
    """Marts with data in both databases; on an empty stack, the demo pipeline fills them
    (sample data through Kafka, ingestion and dbt, as `make demo` does)."""
    if _marts_ready(stack):
        return
    subprocess.run(
        [sys.executable, "-m", "kafka_elt.demo"], check=True, env={**os.environ, **stack.environment()}
    )
    assert _marts_ready(stack), "the demo pipeline ran but the marts are still empty"


@contextlib.contextmanager
def paused(stack, dag_id: str):
    """The DAG paused for the block: a run made by dag.test() must not also be picked up by
    the stack's scheduler (the demo leaves the pipeline's DAGs unpaused and event-driven)."""
    from kafka_elt.stack.airflow import AirflowApi

    api = AirflowApi(stack)
    was_paused = api.request("GET", f"/dags/{dag_id}")["is_paused"]
    api.request("PATCH", f"/dags/{dag_id}", {"is_paused": True})
    try:
        yield
    finally:
        if not was_paused:
            api.unpause(dag_id)


def run_benchmark_dag(stack, *, repetitions: int, warmups: int, extra_env: dict | None = None) -> dict:
    """Run the DAG with dag.test(); its run id and state, and everything it logged."""
    ensure_marts(stack)
    with paused(stack, "dashboard_benchmark"):
        result = _dag_test(stack, repetitions, warmups, extra_env)
    output = result.stdout + result.stderr
    marker = [line for line in result.stdout.splitlines() if line.startswith("DAG_RUN_RESULT ")]
    assert marker, f"dag.test() did not finish (exit {result.returncode}):\n{output[-5000:]}"
    return {**json.loads(marker[-1].removeprefix("DAG_RUN_RESULT ")), "log": output}


def _dag_test(stack, repetitions: int, warmups: int, extra_env: dict | None):
    return subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN_DAG,
            str(DAG_FILE),
            json.dumps({"repetitions": repetitions, "warmups": warmups}),
        ],
        env={**os.environ, **stack.environment(), **(extra_env or {})},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def _delete_run(stack, run_id: str) -> None:
    conn = _pg(stack)
    try:
        with conn.cursor() as cur:
            for table in ("benchmark_result", "mart_checksum", "freshness"):
                cur.execute(f"delete from monitoring.{table} where run_id = %s", (run_id,))
    finally:
        conn.close()


def test_engines_that_answer_differently_fail_the_task_with_the_difference(stack, tmp_path):
    """A query whose ClickHouse variant returns other rows than its PostgreSQL SQL: both
    run for real, the figures are stored, and the task fails showing the differing row."""
    queries = tmp_path / "dashboard"
    queries.mkdir()
    (queries / "methods_seen.sql").write_text(
        "-- HTTP methods seen\nselect request as http_method, cast(count(*) as bigint) as visits\n"
        "from analytics.user_footprint group by request order by visits desc, http_method\n"
    )
    (queries / "methods_seen.clickhouse.sql").write_text(
        "-- HTTP methods seen\nselect request as http_method, cast(count(*) + 1 as bigint) as visits\n"
        "from analytics.user_footprint group by request order by visits desc, http_method\n"
    )
    run = run_benchmark_dag(
        stack, repetitions=1, warmups=0, extra_env={"KAFKA_ELT_DASHBOARD_SQL_DIR": str(queries)}
    )
    try:
        assert run["state"] == "failed", run["log"][-3000:]
        assert "dashboard query 'methods_seen': postgres and clickhouse disagree" in run["log"]
        assert "row 1 differs in visits:" in run["log"]
        rows = _fetch_dicts(
            stack, "select engine, engines_agree, result_hash from monitoring.benchmark_result where run_id = %s",
            (run["run_id"],),
        )  # fmt: skip
        assert {r["engine"] for r in rows} == set(ENGINES)
        assert not any(r["engines_agree"] for r in rows)
        assert rows[0]["result_hash"] != rows[1]["result_hash"]
    finally:
        _delete_run(stack, run["run_id"])


def test_benchmark_dag_writes_results_for_every_query_and_both_engines(stack):
    from kafka_elt.dashboard.queries import load_queries

    run = run_benchmark_dag(stack, repetitions=3, warmups=1)
    assert run["state"] == "success", run["log"][-5000:]
    run_id = run["run_id"]

    results = run_results(stack, run_id)
    expected = {(q.name, e) for q in load_queries() for e in ENGINES}
    assert {(r["query_name"], r["engine"]) for r in results} == expected
    by_key = {(r["query_name"], r["engine"]): r for r in results}
    for r in results:
        assert 0 < r["min_ms"] <= r["median_ms"] <= r["p95_ms"], r
        assert (r["repetitions"], r["warmups"]) == (3, 1)
        assert r["rows_returned"] > 0, (
            f"{r['query_name']} returned no rows on {r['engine']}: are the marts empty?"
        )
        assert r["engines_agree"] is True
        assert r["mart_sizes"]["user_footprint"] > 0 and r["mart_sizes"]["market_candle"] > 0
    for q in load_queries():
        pg, ch = by_key[(q.name, "postgres")], by_key[(q.name, "clickhouse")]
        assert (pg["rows_returned"], pg["result_hash"]) == (ch["rows_returned"], ch["result_hash"]), q.name

    checksums = _fetch_dicts(stack, "select * from monitoring.mart_checksum where run_id = %s", (run_id,))
    assert {c["engine"] for c in checksums} == set(ENGINES)
    assert {c["mart_name"] for c in checksums} >= {"market_candle", "user_footprint", "latest_price"}
    freshness = _fetch_dicts(stack, "select * from monitoring.freshness where run_id = %s", (run_id,))
    assert {(f["engine"], f["mart_name"]) for f in freshness} == {
        (e, m) for e in ENGINES for m in ("market_candle", "user_footprint")
    }
    assert all(f["raw_newest_kafka_at"] is not None for f in freshness)

    # The comparison views read this run.
    latency = latest_latency(stack)
    assert {r["run_id"] for r in latency} == {run_id}
    for r in latency:
        assert r["clickhouse_to_postgres_ratio"] == pytest.approx(
            r["clickhouse_median_ms"] / r["postgres_median_ms"]
        )
        assert r["results_agree"] is True
    agreement = _fetch_dicts(stack, "select * from monitoring.mart_agreement")
    assert agreement and all(a["run_id"] == run_id and a["agree"] for a in agreement), agreement
