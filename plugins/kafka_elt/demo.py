"""`make demo`: sample data through the event-driven pipeline, then a short summary.

Assumes the stack is up (`make up`). Unpauses the DAGs, produces sample messages into
every registry topic, and then only watches: the topic watchers start the ingestion
DAGs, their Asset events start dbt_marts, whose mart Assets start dashboard_benchmark.
Nothing is triggered by hand. While it waits it prints what runs (DAG, task) and how many
messages are loaded; once the whole pipeline is quiet again it prints the rows of every
mart in each database, whether the engines agree, and the benchmark's latencies.
Safe to run again: ingestion is idempotent and the marts are upserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.parse

from kafka_elt.stack.airflow import AirflowApi
from kafka_elt.stack.config import StackConfig
from kafka_elt.stack.process import StackError

DOWNSTREAM = ("dbt_marts", "dashboard_benchmark")
ACTIVE = ("queued", "running")


class Watch:
    """What the pipeline is doing, from Airflow's REST API."""

    def __init__(self, api: AirflowApi, dag_ids: list[str]) -> None:
        self.api = api
        self.dag_ids = dag_ids

    def active_runs(self, dag_id: str) -> list[dict]:
        runs = self.api.request("GET", f"/dags/{dag_id}/dagRuns?state=queued&state=running&limit=10")
        return runs["dag_runs"]

    def queued_events(self, dag_id: str) -> int:
        try:
            return int(self.api.request("GET", f"/dags/{dag_id}/assets/queuedEvents")["total_entries"])
        except StackError:
            return 0  # 404: nothing queued

    def running_tasks(self, dag_id: str, run_id: str) -> list[str]:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=100"
        tis = self.api.request("GET", path)["task_instances"]
        names = []
        for ti in tis:
            if ti["state"] in ("running", "queued", "deferred", "scheduled"):
                suffix = f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""
                names.append(f"{ti['task_id']}{suffix}:{ti['state']}")
        return names

    def last_run(self, dag_id: str) -> dict | None:
        runs = self.api.runs(dag_id, limit=1)
        return runs[0] if runs else None

    def describe(self) -> tuple[str, bool]:
        """(one line on what runs, whether anything is active or queued)."""
        parts, busy = [], False
        for dag_id in self.dag_ids:
            active = self.active_runs(dag_id)
            queued = self.queued_events(dag_id)
            busy = busy or bool(active) or queued > 0
            for run in active:
                tasks = self.running_tasks(dag_id, run["dag_run_id"]) if run["state"] == "running" else []
                shown = ", ".join(tasks[:4]) + (f", +{len(tasks) - 4}" if len(tasks) > 4 else "")
                parts.append(f"{dag_id} {run['state']} ({run['run_type']}){': ' + shown if shown else ''}")
            if queued and not active:
                parts.append(f"{dag_id} queued by {queued} Asset event(s)")
        return "; ".join(parts) or "idle", busy


def wait_for_pipeline(api: AirflowApi, specs, produced: int, timeout: float) -> float:
    """Wait until every message is loaded and no DAG has a run active or queued; print
    progress when it changes. Returns the seconds waited."""
    from kafka_elt.ingest.watcher import LagProbe

    watch = Watch(api, [s.dag_id for s in specs] + list(DOWNSTREAM))
    # What the topic watchers read: messages not yet committed by the ingestion group.
    probes = [LagProbe(spec.topic, spec.consumer_group, "kafka_default") for spec in specs]
    try:
        return _wait(watch, probes, produced, timeout)
    finally:
        for probe in probes:
            probe.close()


def _wait(watch: Watch, probes, produced: int, timeout: float) -> float:
    started = time.monotonic()
    deadline = started + timeout
    last_line, quiet_since = "", None
    while True:
        try:
            waiting: int | None = sum(probe.snapshot().lag for probe in probes)
        except Exception as exc:  # the broker still settling (a fresh one): ask again
            waiting = None
            print(f"demo: cannot read the topics' lag yet ({exc}); retrying", flush=True)
        doing, busy = watch.describe()
        shown = "?" if waiting is None else f"{waiting:,}"
        line = f"{shown} of {produced:,} messages still to load; {doing}"
        elapsed = time.monotonic() - started
        if line != last_line:
            print(f"demo: {elapsed:5.0f}s  {line}", flush=True)
            last_line = line
        if waiting == 0 and not busy:
            # Quiet twice in a row, a poll apart: the scheduler may be between a run's end
            # and the next run it queued.
            if quiet_since is not None:
                return elapsed
            quiet_since = elapsed
        else:
            quiet_since = None
        if time.monotonic() > deadline:
            raise StackError(
                f"the pipeline was still busy after {timeout:.0f}s ({line}). Open the Airflow UI or the "
                "task logs under .stack/logs/airflow/dag_id=<dag>/"
            )
        time.sleep(2)


def _check_last_runs(api: AirflowApi, dag_ids) -> None:
    failed = [d for d in dag_ids if (run := Watch(api, []).last_run(d)) and run["state"] == "failed"]
    if failed:
        raise StackError(
            f"the last run of {', '.join(failed)} failed. Open the Airflow UI, or the task logs under "
            ".stack/logs/airflow/dag_id=<dag>/"
        )


def _figures(cfg: StackConfig) -> tuple[dict[str, dict[str, tuple[int, str]]], list[tuple]]:
    """engine -> mart -> (rows, checksum) from dbt's comparison model in each database, read
    as the benchmark DAG reads it; and the last benchmark run's median latencies."""
    from kafka_elt.dashboard.engines import ClickHouseEngine, PostgresEngine
    from kafka_elt.dashboard.snapshot import checksums_by_engine, read_checksums
    from kafka_elt.stack import clickhouse, postgres

    pg = PostgresEngine(
        postgres.connect(cfg, cfg["WAREHOUSE_DB"], cfg["LOADER_USER"], cfg["LOADER_PASSWORD"])
    )
    try:
        checksums = read_checksums(pg)
        latencies = pg.fetch(
            "select query_name, postgres_median_ms, clickhouse_median_ms, results_agree "
            "from monitoring.engine_latency_ratio order by query_name"
        )
    finally:
        pg.close()
    ch = ClickHouseEngine(clickhouse.client(cfg))
    try:
        checksums += read_checksums(ch)
    finally:
        ch.close()
    return checksums_by_engine(checksums), latencies


def _print_summary(cfg: StackConfig, waited: float, total: float) -> None:
    checksums, latencies = _figures(cfg)
    print("\ndemo: rows per mart (and whether the order-independent checksums agree)")
    print(f"  {'mart':24} {'PostgreSQL':>12} {'ClickHouse':>12}  checksums")
    for mart in sorted(set(checksums["postgres"]) | set(checksums["clickhouse"])):
        pg_rows, pg_sum = checksums["postgres"].get(mart, (0, None))
        ch_rows, ch_sum = checksums["clickhouse"].get(mart, (0, None))
        agree = "agree" if (pg_rows, pg_sum) == (ch_rows, ch_sum) else "DIFFER"
        print(f"  {mart:24} {pg_rows:>12,} {ch_rows:>12,}  {agree}")
    print("\ndemo: dashboard queries, median latency of the last benchmark run")
    print(f"  {'query':28} {'PostgreSQL ms':>14} {'ClickHouse ms':>14}  answers")
    for query, pg_ms, ch_ms, agree in latencies:
        fmt = lambda v: f"{v:14.2f}" if v is not None else f"{'-':>14}"  # noqa: E731
        print(f"  {query:28} {fmt(pg_ms)} {fmt(ch_ms)}  {'agree' if agree else 'DIFFER'}")
    print(f"\ndemo: pipeline done {waited:.0f}s after the last message was produced ({total:.0f}s in all)")
    print(
        f"demo: Airflow UI {cfg.airflow_url}  user {cfg['AIRFLOW_ADMIN_USER']}, password in {cfg.airflow_password_file}"
    )
    print(f"demo: engine comparison page: {cfg.airflow_url} -> 'Engine comparison' in the navigation")
    print("demo: the stack keeps running; new messages are loaded within seconds; `make down` stops it")


def main(argv: list[str] | None = None) -> int:
    from kafka_elt.ingest.registry import load_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=3000, help="candle messages to produce")
    parser.add_argument("--footprints", type=int, default=20000, help="page-visit messages to produce")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the pipeline")
    args = parser.parse_args(argv)

    cfg = StackConfig.load()
    # The Kafka lag is read through the pipeline's own Airflow connection (AIRFLOW_CONN_*).
    os.environ.update(cfg.environment())
    specs = load_registry()
    started = time.monotonic()
    try:
        api = AirflowApi(cfg)
        dag_ids = [spec.dag_id for spec in specs] + list(DOWNSTREAM)
        for dag_id in dag_ids:
            api.wait_for_dag(dag_id)
        # Downstream first, so that the Asset events of the runs below queue them.
        for dag_id in list(DOWNSTREAM) + [spec.dag_id for spec in specs]:
            api.unpause(dag_id)
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
        print(
            "demo: waiting for the pipeline (topic watchers -> ingest_* -> dbt_marts -> dashboard_benchmark); "
            "nothing is triggered by hand",
            flush=True,
        )
        waited = wait_for_pipeline(api, specs, args.candles + args.footprints, args.timeout)
        _check_last_runs(api, dag_ids)
    except (StackError, subprocess.CalledProcessError) as exc:
        print(f"demo: ERROR: {exc}", file=sys.stderr)
        return 1
    _print_summary(cfg, waited, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
