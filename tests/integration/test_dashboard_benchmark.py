"""The dashboard_benchmark DAG, end to end on the local stack (``dag.test()``).

It runs every dashboard query against the real PostgreSQL and ClickHouse marts and
writes results for every query and both engines; when the engines answer differently,
the query's task fails and its log shows the differing rows. How the DAG is run, and
its results read: tests/support/benchmark_runs.py.
"""

from __future__ import annotations

import pytest

from tests.support.benchmark_runs import (
    ENGINES,
    delete_run,
    fetch_dicts,
    latest_latency,
    run_benchmark_dag,
    run_results,
)


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
        rows = fetch_dicts(
            stack, "select engine, engines_agree, result_hash from monitoring.benchmark_result where run_id = %s",
            (run["run_id"],),
        )  # fmt: skip
        assert {r["engine"] for r in rows} == set(ENGINES)
        assert not any(r["engines_agree"] for r in rows)
        assert rows[0]["result_hash"] != rows[1]["result_hash"]
    finally:
        delete_run(stack, run["run_id"])


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

    checksums = fetch_dicts(stack, "select * from monitoring.mart_checksum where run_id = %s", (run_id,))
    assert {c["engine"] for c in checksums} == set(ENGINES)
    assert {c["mart_name"] for c in checksums} >= {"market_candle", "user_footprint", "latest_price"}
    freshness = fetch_dicts(stack, "select * from monitoring.freshness where run_id = %s", (run_id,))
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
    agreement = fetch_dicts(stack, "select * from monitoring.mart_agreement")
    assert agreement and all(a["run_id"] == run_id and a["agree"] for a in agreement), agreement
