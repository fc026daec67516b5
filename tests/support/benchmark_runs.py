"""Runs of the dashboard_benchmark DAG on the local stack, and what they stored; shared by
the DAG's integration test and the browser test of the page that shows the results.

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


def fetch_dicts(stack, sql: str, params: tuple = ()) -> list[dict]:
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
    if not fetch_dicts(stack, "select to_regclass('monitoring.engine_latency_ratio') is not null as ok")[0][
        "ok"
    ]:
        return []
    return fetch_dicts(stack, "select * from monitoring.engine_latency_ratio order by query_name")


def run_results(stack, run_id: str) -> list[dict]:
    """monitoring.benchmark_result rows of one run."""
    return fetch_dicts(stack, "select * from monitoring.benchmark_result where run_id = %s", (run_id,))


def _marts_ready(stack) -> bool:
    """Every engine's marts hold rows, by dbt's comparison model (as the DAG reads it)."""
    from kafka_elt.dashboard.build_guard import BuildLogUnreadable, judge, read_builds
    from kafka_elt.dashboard.engines import ClickHouseEngine, PostgresEngine
    from kafka_elt.dashboard.snapshot import SnapshotFailed, mart_sizes, read_checksums
    from kafka_elt.stack import clickhouse

    engines = [PostgresEngine(_pg(stack)), ClickHouseEngine(clickhouse.client(stack))]
    try:
        sizes = mart_sizes([c for engine in engines for c in read_checksums(engine)])
        # Both engines must also hold one finished build, or the benchmark only waits.
        comparable = judge(read_builds(engines)).comparable
    except (SnapshotFailed, BuildLogUnreadable):  # not built yet, or empty
        return False
    finally:
        for engine in engines:
            engine.close()
    return comparable and all(sum(sizes.get(engine, {}).values()) > 0 for engine in ENGINES)


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


def delete_run(stack, run_id: str) -> None:
    """Remove one run's rows from the results tables (a test's deliberately failed run)."""
    conn = _pg(stack)
    try:
        with conn.cursor() as cur:
            for table in ("benchmark_result", "mart_checksum", "freshness"):
                cur.execute(f"delete from monitoring.{table} where run_id = %s", (run_id,))
    finally:
        conn.close()
