"""Benchmark the dashboard's queries on PostgreSQL and ClickHouse, after every mart rebuild."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from kafka_elt.assets import MART_ASSETS

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
  Trigger it by hand to measure now (params: `repetitions`, `warmups`, `code`,
  `build_wait_seconds`).
* **Compares like with like**: dbt builds the two engines in two processes that end at
  different moments, and a comparison in between would report a difference that is not
  in the data. So every comparison (each query's answers, the mart checksums) runs only
  while both engines hold the same finished dbt build, read from the build log dbt
  writes into each engine (`analytics.dbt_build_log`, see `dbt/macros/build_log.sql`)
  before and after the queries. While the engines hold different builds or one is
  building, the task waits (param `build_wait_seconds`) and then compares; if the
  builds never settle, the task is **skipped** with what it waited for in its log.
  Building both engines by hand? Give both `dbt build`s one id (`--vars '{build_id: x}'`),
  or the benchmark sees two builds and waits for the next `dbt_marts` run.
* **Fails** when the two engines, holding the same build, answer a query differently
  (the task log shows the differing rows), or when a mart's row count or checksum
  differs between them. The figures are stored first (with the build id compared), so
  the page shows the disagreement too.
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
        "build_wait_seconds": Param(
            600,
            type="integer",
            minimum=0,
            maximum=3600,
            description="how long a comparison waits for both engines to hold the same finished dbt build",
        ),
    },
    default_args={"owner": "data-platform", "retries": 1, "retry_delay": timedelta(seconds=30)},
)
def dashboard_benchmark():
    # The tasks' work is in kafka_elt.dashboard.benchmark_tasks; airflow_outcome() makes a
    # comparison that never found both engines on one finished build a skip, and a real
    # disagreement a failure that is not retried.

    @task
    def snapshot_marts(params=None, dag_run=None) -> dict:
        """Create the results tables, snapshot mart sizes, checksums and freshness, read
        while both engines hold the same finished dbt build."""
        from kafka_elt.dashboard import benchmark_tasks as bt

        with bt.airflow_outcome():
            return bt.snapshot_marts(
                run_id=dag_run.run_id,
                run_at=dag_run.start_date or pendulum.now("UTC"),
                code=params.get("code"),
                wait_s=params["build_wait_seconds"],
            )

    @task
    def list_queries() -> list[str]:
        from kafka_elt.dashboard.queries import load_queries

        return [q.name for q in load_queries()]

    @task(max_active_tis_per_dag=1, map_index_template="{{ query_name }}")
    def benchmark(query_name: str, snapshot: dict, params=None, dag_run=None) -> dict:
        """Time one query on both engines while both hold the same finished dbt build,
        store the figures, fail if the answers differ."""
        from kafka_elt.dashboard import benchmark_tasks as bt

        # Names the mapped task in the UI (map_index_template reads it from the context).
        get_current_context()["query_name"] = query_name  # type: ignore[typeddict-unknown-key]
        with bt.airflow_outcome():
            return bt.benchmark(
                query_name,
                snapshot,
                run_id=dag_run.run_id,
                warmups=params["warmups"],
                repetitions=params["repetitions"],
                wait_s=params["build_wait_seconds"],
            )

    @task
    def marts_agree(snapshot: dict) -> None:
        """Every mart has the same row count and checksum in both databases."""
        from kafka_elt.dashboard import benchmark_tasks as bt

        with bt.airflow_outcome():
            bt.check_marts_agree(snapshot)

    @task
    def report(medians: list[dict]) -> None:
        """Log the ClickHouse/PostgreSQL latency ratio per query (the page shows the same)."""
        from kafka_elt.dashboard.benchmark_tasks import latency_report

        print(latency_report())

    snap = snapshot_marts()
    medians = benchmark.partial(snapshot=snap).expand(query_name=list_queries())
    marts_agree(snap)
    report(medians)


dashboard_benchmark_dag = dashboard_benchmark()
