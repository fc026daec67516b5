"""`make demo`: sample data through the whole pipeline, then a short summary.

Assumes the stack is up (`make up`). Produces sample messages into every registry topic,
triggers each ingestion DAG through Airflow's REST API, then dbt_marts and
dashboard_benchmark, and prints the rows of every mart in each database.
Safe to run again: ingestion is idempotent and the marts are upserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from kafka_elt.stack.airflow import AirflowApi
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import StackError

TERMINAL = {"success", "failed"}


def _wait_for_runs(api: AirflowApi, runs: dict[str, str], timeout: float) -> None:
    """Wait for (dag_id -> run_id) runs to finish; print their states as they change."""
    deadline = time.monotonic() + timeout
    last: dict[str, str] = {}
    while True:
        states = {dag_id: api.run_state(dag_id, run_id) for dag_id, run_id in runs.items()}
        for dag_id, state in states.items():
            if last.get(dag_id) != state:
                print(f"demo:   {dag_id} {runs[dag_id]}: {state}", flush=True)
        last = states
        failed = [d for d, s in states.items() if s == "failed"]
        if failed:
            raise StackError(
                f"DAG run failed: {', '.join(failed)}. Open the Airflow UI, or the task logs under "
                f".stack/logs/airflow/dag_id=<dag>/"
            )
        if all(s in TERMINAL for s in states.values()):
            return
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout:.0f}s waiting for {runs}")
        time.sleep(3)


def _mart_checksums(cfg: StackConfig) -> dict[str, dict[str, tuple[int, int]]]:
    """engine -> mart -> (rows, checksum), from the dbt comparison model in each database."""
    from kafka_elt.stack import clickhouse, postgres

    pg = postgres.connect(cfg, cfg["WAREHOUSE_DB"], cfg["LOADER_USER"], cfg["LOADER_PASSWORD"])
    with pg, pg.cursor() as cur:
        cur.execute("select mart_name, row_count, checksum from analytics.mart_checksums")
        pg_rows = {name: (int(rows), int(checksum)) for name, rows, checksum in cur.fetchall()}
    pg.close()
    ch = clickhouse.client(cfg)
    result = ch.query("select mart_name, row_count, checksum from analytics.mart_checksums")
    ch_rows = {name: (int(rows), int(checksum)) for name, rows, checksum in result.result_rows}
    ch.close()
    return {"postgres": pg_rows, "clickhouse": ch_rows}


def main(argv: list[str] | None = None) -> int:
    from kafka_elt.ingest.registry import load_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=3000, help="candle messages to produce")
    parser.add_argument("--footprints", type=int, default=20000, help="page-visit messages to produce")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each stage")
    args = parser.parse_args(argv)

    cfg = StackConfig.load()
    try:
        print(
            f"demo: producing {args.candles} candle and {args.footprints} page-visit messages ...", flush=True
        )
        subprocess.run(
            [
                sys.executable, "-m", "kafka_elt.producers.sample",
                "--bootstrap", cfg.kafka_bootstrap,
                "--candles", str(args.candles),
                "--footprints", str(args.footprints),
            ],
            check=True,
        )  # fmt: skip
        api = AirflowApi(cfg)
        ingest_dags = [spec.dag_id for spec in load_registry()]
        downstream = ["dbt_marts", "dashboard_benchmark"]
        for dag_id in ingest_dags + downstream:
            api.wait_for_dag(dag_id)
        # Downstream DAGs are unpaused first so that the Asset events of this run queue them.
        for dag_id in downstream + ingest_dags:
            api.unpause(dag_id)
        print("demo: running the ingestion DAGs ...", flush=True)
        _wait_for_runs(api, {dag_id: api.trigger(dag_id) for dag_id in ingest_dags}, args.timeout)
        # The ingestion runs' Asset events schedule dbt_marts by themselves, but the first
        # such run may start before the other topic is loaded; a run triggered now (queued
        # behind any running one) is sure to see every message produced above.
        for dag_id in downstream:
            print(f"demo: running {dag_id} over everything loaded ...", flush=True)
            _wait_for_runs(api, {dag_id: api.trigger(dag_id)}, args.timeout)
    except (StackError, subprocess.CalledProcessError) as exc:
        print(f"demo: ERROR: {exc}", file=sys.stderr)
        return 1

    checksums = _mart_checksums(cfg)
    print("\ndemo: rows per mart (and whether the order-independent checksums agree)")
    print(f"  {'mart':24} {'PostgreSQL':>12} {'ClickHouse':>12}  checksums")
    for mart in sorted(set(checksums["postgres"]) | set(checksums["clickhouse"])):
        pg_rows, pg_sum = checksums["postgres"].get(mart, (0, None))
        ch_rows, ch_sum = checksums["clickhouse"].get(mart, (0, None))
        agree = "agree" if (pg_rows, pg_sum) == (ch_rows, ch_sum) else "DIFFER"
        print(f"  {mart:24} {pg_rows:>12,} {ch_rows:>12,}  {agree}")
    print(
        f"\ndemo: Airflow UI {cfg.airflow_url}  user {cfg['AIRFLOW_ADMIN_USER']}, password in {cfg.airflow_password_file}"
    )
    print(f"demo: engine comparison page: {cfg.airflow_url} -> 'Engine comparison' in the navigation")
    print("demo: the stack keeps running (ingestion DAGs are scheduled); `make down` stops it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
