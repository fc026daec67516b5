"""Benchmark the dashboard's queries on PostgreSQL and ClickHouse, after every mart rebuild."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from kafka_elt.assets import MART_ASSETS

POSTGRES_CONN_ID = "warehouse_postgres"
CLICKHOUSE_CONN_ID = "warehouse_clickhouse"

DOC = """
### dashboard_benchmark

Answers the question the original team loaded every event into two databases for:
**which engine should serve the dashboard?** Every query in `include/sql/dashboard/`
runs against the marts in PostgreSQL and in ClickHouse: `warmups` untimed runs, then
`repetitions` timed runs alternating the engines. Per query and engine it records
min / median / p95 latency, rows returned and the mart sizes into
`monitoring.benchmark_result` (PostgreSQL, kept for every run, so trends show), and
snapshots every mart's row count and checksum (dbt's `mart_checksums`) and the data
freshness. The **Engine comparison** page in the Airflow UI shows the latest run.

* **Schedule**: on the mart Assets, i.e. after `dbt_marts` has rebuilt both databases.
  Trigger it by hand to measure now (params: `repetitions`, `warmups`, `code`).
* **Fails** when the two engines answer a query differently (the task log shows the
  differing rows), or when a mart's row count or checksum differs between them. The
  figures are stored first, so the page shows the disagreement too.
* One query at a time (`max_active_tis_per_dag=1`): timings taken while another
  benchmark query competes for the same two cores would measure the contention.
"""


@dag(
    dag_id="dashboard_benchmark",
    schedule=MART_ASSETS,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["dashboard", "benchmark", "postgres", "clickhouse"],
    doc_md=DOC,
    params={
        "repetitions": Param(
            10, type="integer", minimum=1, maximum=1000, description="timed runs per engine"
        ),
        "warmups": Param(2, type="integer", minimum=0, maximum=100, description="untimed runs first"),
        "code": Param(
            None,
            type=["null", "string"],
            description="market code for the hourly OHLCV query; empty: the first code in latest_price",
        ),
    },
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
)
def dashboard_benchmark():
    @task
    def snapshot_marts(params=None, dag_run=None) -> dict:
        """Create the results tables, snapshot mart sizes, checksums and freshness."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from kafka_elt.dashboard import snapshot, store
        from kafka_elt.dashboard.engines import open_engines

        run_at = dag_run.start_date or pendulum.now("UTC")
        engines = open_engines(POSTGRES_CONN_ID, CLICKHOUSE_CONN_ID)
        try:
            checksums = [c for e in engines for c in snapshot.read_checksums(e)]
            freshness = [f for e in engines for f in snapshot.read_freshness(e)]
            code = params.get("code") or snapshot.default_code(engines[0])
        finally:
            for engine in engines:
                engine.close()
        with PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn() as conn:
            store.apply_schema(conn)
            store.save_checksums(conn, run_id=dag_run.run_id, taken_at=run_at, checksums=checksums)
            store.save_freshness(conn, run_id=dag_run.run_id, taken_at=run_at, freshness=freshness)
        return {
            "run_at": run_at.isoformat(),
            "mart_sizes": snapshot.mart_sizes(checksums),
            "mart_disagreements": snapshot.disagreements(checksums, [e.name for e in engines]),
            "query_params": {"code": code},
        }

    @task
    def list_queries() -> list[str]:
        from kafka_elt.dashboard.queries import load_queries

        return [q.name for q in load_queries()]

    @task(max_active_tis_per_dag=1, map_index_template="{{ query_name }}")
    def benchmark(query_name: str, snapshot: dict, params=None, dag_run=None) -> dict:
        """Time one query on both engines, store the figures, fail if the answers differ."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk.exceptions import AirflowFailException

        from kafka_elt.dashboard import store
        from kafka_elt.dashboard.engines import open_engines
        from kafka_elt.dashboard.queries import load_queries
        from kafka_elt.dashboard.runner import benchmark_query

        get_current_context()["query_name"] = query_name  # names the mapped task in the UI
        query = {q.name: q for q in load_queries()}[query_name]
        engines = open_engines(POSTGRES_CONN_ID, CLICKHOUSE_CONN_ID)
        try:
            result = benchmark_query(
                query,
                engines,
                warmups=params["warmups"],
                repetitions=params["repetitions"],
                params=snapshot["query_params"],
            )
        finally:
            for engine in engines:
                engine.close()
        with PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn() as conn:
            store.save_benchmark(
                conn,
                run_id=dag_run.run_id,
                run_at=pendulum.parse(snapshot["run_at"]),
                benchmark=result,
                warmups=params["warmups"],
                mart_sizes=snapshot["mart_sizes"],
            )
        if not result.comparison.agree:
            # Not retried: the same data gives the same answers.
            raise AirflowFailException(result.disagreement())
        return {engine: run.stats.median_ms for engine, run in result.runs.items()}

    @task
    def marts_agree(snapshot: dict) -> None:
        """Every mart has the same row count and checksum in both databases."""
        from airflow.sdk.exceptions import AirflowFailException

        if snapshot["mart_disagreements"]:
            raise AirflowFailException(
                "marts differ between PostgreSQL and ClickHouse (from dbt's mart_checksums):\n  "
                + "\n  ".join(snapshot["mart_disagreements"])
                + "\nRe-run dbt_marts; if they still differ, compare the marts' rows for the keys involved."
            )

    @task
    def report(medians: list[dict]) -> None:
        """Log the ClickHouse/PostgreSQL latency ratio per query (the page shows the same)."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        with PostgresHook(postgres_conn_id=POSTGRES_CONN_ID).get_conn() as conn:
            rows = conn.execute(
                "select query_name, postgres_median_ms, clickhouse_median_ms, clickhouse_to_postgres_ratio, "
                "results_agree from monitoring.engine_latency_ratio order by query_name"
            ).fetchall()

        def fmt(value, width: int) -> str:
            return f"{value:{width}.2f}" if value is not None else f"{'-':>{width}}"

        lines = [f"{'query':28} {'postgres ms':>12} {'clickhouse ms':>14} {'CH/PG':>7}  agree"]
        lines += [
            f"{q:28} {fmt(pg, 12)} {fmt(ch, 14)} {fmt(ratio, 7)}  {ok}" for q, pg, ch, ratio, ok in rows
        ]
        print("\n".join(lines))

    snap = snapshot_marts()
    medians = benchmark.partial(snapshot=snap).expand(query_name=list_queries())
    marts_agree(snap)
    report(medians)


dashboard_benchmark_dag = dashboard_benchmark()
