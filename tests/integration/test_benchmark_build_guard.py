"""dbt_marts and dashboard_benchmark started together, ten times in a row: the benchmark
never reports a disagreement that is not in the data.

dbt_marts builds PostgreSQL and ClickHouse in two processes that end at different
moments; a benchmark that compared the engines in between failed with "postgres and
clickhouse disagree" on marts that were fine. The benchmark now compares only while both
engines hold the same finished dbt build (dbt/macros/build_log.sql writes the build log,
plugins/kafka_elt/dashboard/build_guard.py reads it). Here both DAGs are triggered
through the stack's REST API at the same moment, ten times, and every benchmark run of
the test (the manual ones, and the ones dbt_marts' mart Assets schedule) must succeed or
skip its comparison with the build guard's reason; none may fail.

So that the race is real, the test first writes extra page visits into both raw tables
(the real ones, as tests/integration/test_dbt_marts.py does, in partitions 1000-1002
that no real topic has, dag_run_id ``test_benchmark_build_guard__<time>``), so that the
builds take seconds. It checks that the
builds did take seconds and that the benchmark was active while dbt built.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ITERATIONS = 10
# The benchmark's own bound in this test (its default is 600 s): a comparison that
# cannot settle skips within it, well inside the iteration's timeout.
BUILD_WAIT_S = 180
BENCHMARK_CONF = {"repetitions": 2, "warmups": 0, "build_wait_seconds": BUILD_WAIT_S}
ITERATION_TIMEOUT_S = 240
# The whole test stays well under 15 minutes on a 2-core machine, or fails saying so.
TEST_BUDGET_S = 13 * 60
QUIET_TIMEOUT_S = 240
POLL_S = 2
FOOTPRINTS = 40_000
# A build shorter than this could hardly overlap a benchmark: the test would prove little.
MIN_BUILD_S = 3.0
DAGS = ("dbt_marts", "dashboard_benchmark")
WEB_TOPIC = "web-logs-topic"
TERMINAL = ("success", "failed")
GUARD_SKIP = "not compared: the engines did not hold the same finished dbt build"


def _parse(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def api(stack):
    """The REST API, both DAGs unpaused for the test (their pause state restored after),
    and neither running anything when the test starts or ends."""
    from kafka_elt.stack.airflow import AirflowApi

    api = AirflowApi(stack)
    was_paused = {}
    for dag_id in DAGS:
        api.wait_for_dag(dag_id)
        was_paused[dag_id] = api.request("GET", f"/dags/{dag_id}")["is_paused"]
        api.unpause(dag_id)
    _wait_quiet(api, QUIET_TIMEOUT_S)
    yield api
    _wait_quiet(api, QUIET_TIMEOUT_S)
    for dag_id, paused in was_paused.items():
        if paused:
            api.request("PATCH", f"/dags/{dag_id}", {"is_paused": True})


@pytest.fixture(scope="module")
def heavy_raw_rows(stack):
    """FOOTPRINTS page visits, the newest rows of raw web_logs in both engines."""
    from psycopg2.extras import execute_values

    from kafka_elt.ingest.registry import get_topic
    from kafka_elt.settings import RAW_COLUMNS
    from kafka_elt.stack import clickhouse, postgres

    table = get_topic(WEB_TOPIC).qualified_table
    _ensure_pipeline_ran(stack, table)
    run_id = f"test_benchmark_build_guard__{int(time.time())}"
    rng = random.Random(20250519)
    now = dt.datetime.now(dt.UTC)
    base = time.time_ns() // 1000  # offsets far above any real topic's
    paths = [f"/posts/{n}" for n in range(1, 40)] + ["/", "/about", "/search", "/api/items"]
    methods = ["GET"] * 12 + ["POST"] * 3 + ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    rows = []
    for i in range(FOOTPRINTS):
        visited = (now - dt.timedelta(milliseconds=rng.randrange(20 * 3600 * 1000))).replace(
            microsecond=0
        )  # Kafka timestamps have milliseconds at most
        value = json.dumps(
            {
                "link": rng.choice(paths),
                "method": rng.choice(methods),
                "footprint_time": visited.isoformat().replace("+00:00", "Z"),
            }
        )
        # partitions no topic of the stack has (see test_dbt_marts.PARTITION_BASE)
        rows.append((WEB_TOPIC, 1000 + i % 3, base + i, value, visited))
    ingested_at = dt.datetime.now(dt.UTC)  # one value for both engines: marts must agree

    pg = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    try:
        with pg.cursor() as cur:
            execute_values(
                cur,
                f"insert into {table} ({', '.join(RAW_COLUMNS)}) values %s "
                "on conflict (kafka_topic, kafka_partition, kafka_offset) do nothing",
                [(t, p, o, None, v, ts, None, ingested_at, run_id) for t, p, o, v, ts in rows],
                page_size=5000,
            )
        pg.commit()
    finally:
        pg.close()
    ch = clickhouse.client(stack)
    try:
        ch.insert(
            table,
            [[t, p, o, None, v, ts, "[]", ingested_at, run_id] for t, p, o, v, ts in rows],
            column_names=list(RAW_COLUMNS),
        )
    finally:
        ch.close()
    return run_id


def _ensure_pipeline_ran(stack, table: str) -> None:
    """The raw tables and marts exist in both engines; on an empty stack the demo pipeline
    makes them (sample data through Kafka, ingestion and dbt, as `make demo` does)."""
    from kafka_elt.stack import clickhouse, postgres

    def ready() -> bool:
        pg = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
        try:
            with pg.cursor() as cur:
                cur.execute(
                    "select to_regclass(%s) is not null and to_regclass('analytics.mart_checksums') is not null",
                    (table,),
                )
                (pg_ok,) = cur.fetchone()
        finally:
            pg.close()
        ch = clickhouse.client(stack)
        try:
            ch_ok = ch.command(f"exists table {table}") and ch.command(
                "exists table analytics.mart_checksums"
            )
        finally:
            ch.close()
        return bool(pg_ok and ch_ok)

    if not ready():
        subprocess.run(
            [sys.executable, "-m", "kafka_elt.demo"], check=True, env={**os.environ, **stack.environment()}
        )
        assert ready(), "the demo pipeline ran but the raw tables or marts are still missing"


# --------------------------------------------------------------------------- Airflow


def _active(api, dag_id: str) -> list[dict]:
    return api.request("GET", f"/dags/{dag_id}/dagRuns?state=queued&state=running&limit=20")["dag_runs"]


def _queued_events(api, dag_id: str) -> int:
    from kafka_elt.stack.process import StackError

    try:
        return int(api.request("GET", f"/dags/{dag_id}/assets/queuedEvents")["total_entries"])
    except StackError:
        return 0  # 404: none queued


def _wait_quiet(api, timeout: float) -> None:
    """No run of either DAG queued or running, and no Asset event about to start one."""
    deadline = time.monotonic() + timeout
    while any(_active(api, d) for d in DAGS) or _queued_events(api, "dashboard_benchmark"):
        if time.monotonic() > deadline:
            busy = {d: [(r["dag_run_id"], r["state"]) for r in _active(api, d)] for d in DAGS}
            pytest.fail(f"{DAGS} still busy after {timeout}s: {busy}")
        time.sleep(POLL_S)


def _run(api, dag_id: str, run_id: str) -> dict:
    return api.request("GET", f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")


def _task_instances(api, dag_id: str, run_id: str) -> list[dict]:
    path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=200"
    return api.request("GET", path)["task_instances"]


def _wait_terminal(api, runs: dict[str, str], timeout: float) -> dict[str, str]:
    """dag_id -> run_id, until each run has ended; their states."""
    deadline = time.monotonic() + timeout
    while True:
        states = {dag_id: _run(api, dag_id, run_id)["state"] for dag_id, run_id in runs.items()}
        if all(s in TERMINAL for s in states.values()):
            return states
        if time.monotonic() > deadline:
            pytest.fail(f"runs {runs} not finished after {timeout:.0f}s: {states}")
        time.sleep(POLL_S)


def _task_log(stack, ti: dict) -> str:
    """The task's log from the stack's log folder (LocalExecutor writes it there)."""
    folder = Path(stack.environment()["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
    path = folder / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}" / f"task_id={ti['task_id']}"
    if ti["map_index"] >= 0:
        path = path / f"map_index={ti['map_index']}"
    files = sorted(path.glob("attempt=*.log"))
    return "\n".join(f.read_text(errors="replace") for f in files) or f"(no log under {path})"


def _label(ti: dict) -> str:
    return ti["task_id"] + (
        f"[{ti.get('rendered_map_index') or ti['map_index']}]" if ti["map_index"] >= 0 else ""
    )


# --------------------------------------------------------------------------- the build log


def _build_windows(
    stack, build_ids: set[str]
) -> dict[tuple[str, str], tuple[dt.datetime, dt.datetime | None]]:
    """(engine, build id) -> (when its start row was written, when it ended) for the
    builds of the test's dbt_marts runs (their build id is the run id)."""
    from kafka_elt.stack import clickhouse, postgres

    sql = "select build_id, status, recorded_at, finished_at from analytics.dbt_build_log"
    rows: list[tuple[str, tuple]] = []
    pg = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    try:
        with pg.cursor() as cur:
            cur.execute(sql + " where build_id = any(%s)", (sorted(build_ids),))
            rows += [("postgres", r) for r in cur.fetchall()]
    finally:
        pg.close()
    ch = clickhouse.client(stack)
    try:
        result = ch.query(
            sql + " where build_id in {ids:Array(String)}", parameters={"ids": sorted(build_ids)}
        )
        rows += [("clickhouse", r) for r in result.result_rows]
    finally:
        ch.close()

    def utc(value):
        return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value

    windows: dict[tuple[str, str], tuple[dt.datetime, dt.datetime | None]] = {}
    for engine, (build_id, status, recorded_at, finished_at) in rows:
        start, end = windows.get((engine, build_id), (None, None))
        if status == "started":
            start = utc(recorded_at) if start is None else min(start, utc(recorded_at))
        elif finished_at is not None:
            end = utc(finished_at) if end is None else max(end, utc(finished_at))
        windows[(engine, build_id)] = (start, end)
    return windows


def _benchmark_results(stack, run_ids: list[str]) -> list[tuple[str, str, str | None, bool]]:
    from kafka_elt.stack import postgres

    pg = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    try:
        with pg.cursor() as cur:
            cur.execute(
                "select run_id, query_name, build_id, engines_agree from monitoring.benchmark_result "
                "where run_id = any(%s)",
                (run_ids,),
            )
            return cur.fetchall()
    finally:
        pg.close()


# --------------------------------------------------------------------------- the test


@dataclass
class Outcome:
    """What the benchmark runs of the test did, task by task."""

    false_alarms: list[str] = field(default_factory=list)  # failed tasks, with their log's diff
    unexplained_skips: list[str] = field(default_factory=list)
    compared: int = 0  # benchmark tasks that compared (and agreed)
    # (task, started, ended) of every snapshot_marts and benchmark task that ran
    activity: list[tuple[str, dt.datetime, dt.datetime | None]] = field(default_factory=list)

    def add(self, stack, run_id: str, tis: list[dict]) -> None:
        snapshot_skipped = any(t["task_id"] == "snapshot_marts" and t["state"] == "skipped" for t in tis)
        for ti in tis:
            label = f"{run_id} {_label(ti)}"
            if ti["task_id"] in ("snapshot_marts", "benchmark") and ti.get("start_date"):
                self.activity.append((label, _parse(ti["start_date"]), _parse(ti.get("end_date"))))
            if ti["state"] == "failed":
                log = _task_log(stack, ti)
                lines = [ln for ln in log.splitlines() if "disagree" in ln or "differ" in ln]
                self.false_alarms.append(f"{label}:\n    " + "\n    ".join(lines[:20] or [log[-2000:]]))
            elif ti["state"] == "skipped" and ti["task_id"] in ("snapshot_marts", "benchmark"):
                upstream = ti["task_id"] == "benchmark" and snapshot_skipped
                if not upstream and GUARD_SKIP not in _task_log(stack, ti):
                    self.unexplained_skips.append(label)
            elif ti["state"] == "success" and ti["task_id"] == "benchmark":
                self.compared += 1


def _iterate(api) -> list[str]:
    """Trigger both DAGs together, ITERATIONS times, each time until both runs ended;
    the dbt_marts run ids."""
    started = time.monotonic()
    dbt_runs: list[str] = []
    for i in range(ITERATIONS):
        left = TEST_BUDGET_S - (time.monotonic() - started)
        if left <= 0:
            pytest.fail(f"only {i} of {ITERATIONS} iterations fit in {TEST_BUDGET_S}s: the stack is too slow")
        runs = {
            "dbt_marts": api.trigger("dbt_marts"),
            "dashboard_benchmark": api.trigger("dashboard_benchmark", BENCHMARK_CONF),
        }
        states = _wait_terminal(api, runs, min(ITERATION_TIMEOUT_S, left))
        print(f"iteration {i + 1}: {states} ({time.monotonic() - started:.0f}s)")
        assert states["dbt_marts"] == "success", (
            f"dbt_marts run {runs['dbt_marts']} failed: the test needs built marts; see its build tasks' logs"
        )
        dbt_runs.append(runs["dbt_marts"])
    # The mart Assets of the last dbt_marts runs schedule benchmark runs of their own.
    _wait_quiet(api, QUIET_TIMEOUT_S)
    return dbt_runs


@pytest.mark.usefixtures("heavy_raw_rows")
def test_benchmark_started_with_dbt_marts_never_reports_a_false_disagreement(api, stack):
    started = time.monotonic()
    since = dt.datetime.now(dt.UTC)
    dbt_runs = _iterate(api)
    benchmark_runs = [
        r
        for r in api.runs("dashboard_benchmark", limit=100)
        if r.get("queued_at") and _parse(r["queued_at"]) >= since and r["state"] in TERMINAL
    ]
    assert len([r for r in benchmark_runs if r["run_type"] == "manual"]) == ITERATIONS

    # No benchmark run failed; every comparison that did not run was skipped by the guard.
    outcome = Outcome()
    for run in benchmark_runs:
        outcome.add(stack, run["dag_run_id"], _task_instances(api, "dashboard_benchmark", run["dag_run_id"]))
    failed_runs = [r["dag_run_id"] for r in benchmark_runs if r["state"] == "failed"]
    assert not outcome.false_alarms and not failed_runs, (
        "dashboard_benchmark failed while dbt_marts rebuilt the marts (a false disagreement, or another "
        f"failure) in runs {failed_runs}:\n" + "\n".join(outcome.false_alarms)
    )
    assert not outcome.unexplained_skips, (
        f"skipped without the build guard's reason: {outcome.unexplained_skips}"
    )
    assert outcome.compared > 0, (
        "no benchmark query compared the engines in any run: the guard only ever waited"
    )

    # Each comparison stored names the dbt build both engines held; some are this test's.
    results = _benchmark_results(stack, [r["dag_run_id"] for r in benchmark_runs])
    assert len(results) == 2 * outcome.compared, results
    assert all(agree and build_id for _, _, build_id, agree in results), results
    assert {build_id for _, _, build_id, _ in results} & set(dbt_runs), (
        f"no comparison was of a build of this test's dbt_marts runs {dbt_runs}: {results}"
    )

    # The race was real: builds took seconds, and the benchmark ran while dbt built.
    windows = _build_windows(stack, set(dbt_runs))
    assert {e for e, _ in windows} == {"postgres", "clickhouse"}, windows
    durations = [(end - start).total_seconds() for start, end in windows.values() if start and end]
    assert durations and statistics.median(durations) >= MIN_BUILD_S, (
        f"dbt builds took {durations} s: too short to overlap a benchmark; load more rows (FOOTPRINTS)"
    )
    overlapping = {
        label
        for label, t_start, t_end in outcome.activity
        for start, end in windows.values()
        if start and end and t_start < end and (t_end is None or start < t_end)
    }
    assert overlapping, "no benchmark task ran while dbt built: the test did not exercise the race"
    print(
        f"{len(benchmark_runs)} benchmark runs, {outcome.compared} queries compared, "
        f"{len(overlapping)} benchmark tasks overlapped a dbt build; builds took "
        f"{statistics.median(durations):.1f}s (median); {time.monotonic() - started:.0f}s in all"
    )
