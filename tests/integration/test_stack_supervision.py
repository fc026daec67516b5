"""Supervision: the stack's processes come back by themselves, and say how often.

Real processes under the stack's supervisord: PostgreSQL stopped and started again,
the ClickHouse server and the scheduler killed with SIGKILL. Nobody restarts anything
here but supervisord. ``postgres_outage`` and ``airflow_back`` are meant for reuse by
tests that check the data side of the same outage (produce inside the ``with`` block).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from kafka_elt.stack import airflow, clickhouse, postgres, supervision
from kafka_elt.stack.__main__ import status
from kafka_elt.stack.process import _group_pids, pid_alive, wait_until
from tests.support import pipeline

# Airflow's components that need the metadata database to keep running.
METADATA_CLIENTS = ("airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
AIRFLOW = ("airflow-api-server", *METADATA_CLIENTS)
DELIVERY_TIMEOUT_S = pipeline.DELIVERY_TIMEOUT_S
RAW_CANDLES = "raw.market_candle"


def states(stack) -> dict[str, str]:
    return {name: info["statename"] for name, info in supervision.Supervisor.of(stack).all_info().items()}


def restarts(stack) -> dict[str, int]:
    counts = supervision.restart_counts(stack)
    return {name: counts.get(name, {}).get("restarts", 0) for name in states(stack)}


def airflow_back(stack, since: datetime) -> bool:
    """Every Airflow component RUNNING under supervisord, and each one that heartbeats has
    done so since ``since`` (the API's health report)."""
    current = states(stack)
    if any(current[name] != "RUNNING" for name in AIRFLOW):
        return False
    report = airflow.health(stack)
    if report["metadatabase"]["status"] != "healthy":
        return False
    for part in ("scheduler", "triggerer", "dag_processor"):
        beat = report[part].get(f"latest_{part}_heartbeat")
        if report[part]["status"] != "healthy" or not beat or datetime.fromisoformat(beat) <= since:
            return False
    return True


@dataclass
class Outage:
    stopped_at: datetime
    restarted_at: datetime | None = None


@contextmanager
def postgres_outage(stack, seconds: float = 30) -> Iterator[Outage]:
    """PostgreSQL stopped on purpose (through supervisord, as `make down` does) for
    ``seconds``, then started again (as `make up` does). The block runs during the outage;
    the rest of ``seconds`` is waited out after it. supervisord must leave a deliberately
    stopped PostgreSQL alone for the whole outage."""
    pg = postgres.service(stack)
    assert pg.stop(), "PostgreSQL was not running"
    outage = Outage(stopped_at=datetime.now(UTC))
    started = time.monotonic()
    try:
        yield outage
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        assert states(stack)["postgres"] == "STOPPED", "supervisord restarted a PostgreSQL stopped on purpose"
    finally:
        outage.restarted_at = datetime.now(UTC)
        postgres.start(stack)


def test_airflow_comes_back_by_itself_after_postgres_was_down_for_30_s(stack, kafka_bootstrap):
    api = pipeline.unpaused_pipeline(stack)
    pipeline.wait_quiet(api, DELIVERY_TIMEOUT_S)
    marker, code = pipeline.markers()
    before = restarts(stack)
    with postgres_outage(stack, seconds=30) as outage:
        # Kafka takes the messages while the warehouse and Airflow's database are down.
        pipeline.produce(kafka_bootstrap, pipeline.WEB_TOPIC, pipeline.footprints(marker, 5))
        pipeline.produce(kafka_bootstrap, pipeline.CANDLE_TOPIC, pipeline.candles(code, 3))
        # Without their metadata database the components exit (measured: 2 s, the
        # triggerer 12 s); supervisord keeps retrying them with a growing delay.
        wait_until(
            lambda: all(states(stack)[name] != "RUNNING" for name in METADATA_CLIENTS),
            what="Airflow's components to notice PostgreSQL is gone",
            timeout=25,
        )
    took = wait_until(
        lambda: airflow_back(stack, since=outage.restarted_at),
        what="Airflow's components running again, with no command from anyone",
        timeout=60,
    )
    after = restarts(stack)
    for name in METADATA_CLIENTS:
        assert after[name] > before[name], f"{name}: no restart counted"
    print(f"Airflow back {took:.1f}s after PostgreSQL started; restarts {after}")

    # The queued work runs by itself: the messages reach both engines' marts, once.
    pg_conn = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    ch_client = clickhouse.client(stack)
    try:
        delivered = pipeline.wait_for_marts(pg_conn, ch_client, marker, code, (5, 3), DELIVERY_TIMEOUT_S)
        pipeline.wait_quiet(api, DELIVERY_TIMEOUT_S)
        assert pipeline.mart_counts(pg_conn, ch_client, marker, code) == {
            "postgres": (5, 3),
            "clickhouse": (5, 3),
        }
    finally:
        pg_conn.close()
        ch_client.close()
    print(f"messages produced during the outage in both marts {delivered:.1f}s after Airflow was back")


def _drain_attempts(api, run_id: str) -> list[dict]:
    path = f"/dags/ingest_market_candle/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=100"
    return [ti for ti in api.request("GET", path)["task_instances"] if ti["task_id"] == "drain"]


def _try_log(api, run_id: str, map_index: int, try_number: int) -> str:
    path = (
        f"/dags/ingest_market_candle/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/drain/logs/"
        f"{try_number}?map_index={map_index}&full_content=true"
    )
    return json.dumps(api.request("GET", path))


def test_a_drain_running_when_clickhouse_is_killed_fails_clearly_and_its_retry_loads_everything_once(
    stack, kafka_bootstrap
):
    api = pipeline.unpaused_pipeline(stack)
    pipeline.wait_quiet(api, DELIVERY_TIMEOUT_S)
    code = pipeline.markers()[1]
    started = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    before = pipeline.partition_offsets(kafka_bootstrap, pipeline.CANDLE_TOPIC)
    pipeline.produce(kafka_bootstrap, pipeline.CANDLE_TOPIC, pipeline.candles(code, 300_000))
    after = pipeline.partition_offsets(kafka_bootstrap, pipeline.CANDLE_TOPIC)
    produced = sum(after.values()) - sum(before.values())
    assert produced == 300_000

    pg_conn = postgres.connect(stack, stack["WAREHOUSE_DB"], stack["LOADER_USER"], stack["LOADER_PASSWORD"])
    ch_client = clickhouse.client(stack)
    try:
        # The watcher starts the run; kill ClickHouse while a drain's insert into the raw
        # table is under way (a kill between two inserts could go unnoticed: supervisord
        # has the server back before the next one).
        def inserting() -> bool:
            return bool(
                int(
                    ch_client.command(
                        "select count() from system.processes "
                        "where query_kind = 'Insert' and position(query, 'market_candle') > 0 and position(query, 'kafka_value') > 0"
                    )
                )
            )

        wait_until(inserting, what="a drain inserting into ClickHouse", timeout=180, interval=0.05)
        server = clickhouse.service(stack)
        os.kill(server.pid(), signal.SIGKILL)
        ch_client.close()
        wait_until(lambda: clickhouse.ping(stack), what="ClickHouse back under supervisord", timeout=30)
        ch_client = clickhouse.client(stack)

        # The run ends green through its drains' retries, and every message is stored once.
        wait_until(
            lambda: pipeline.offset_range_counts(pg_conn, ch_client, RAW_CANDLES, before, after)
            == {"postgres": (produced, produced), "clickhouse": (produced, produced)},
            what="every message in both raw tables",
            timeout=DELIVERY_TIMEOUT_S,
            interval=2,
        )
        pipeline.wait_quiet(api, DELIVERY_TIMEOUT_S)
        assert pipeline.offset_range_counts(pg_conn, ch_client, RAW_CANDLES, before, after) == {
            "postgres": (produced, produced),
            "clickhouse": (produced, produced),
        }
    finally:
        pg_conn.close()
        ch_client.close()

    runs = [
        r
        for r in api.runs("ingest_market_candle", limit=20)
        if r["state"] != "queued" and (r.get("queued_at") or "") >= started
    ]
    retried = [
        (run["dag_run_id"], ti)
        for run in runs
        for ti in _drain_attempts(api, run["dag_run_id"])
        if ti["try_number"] > 1
    ]
    assert retried, f"no drain was retried after ClickHouse was killed: {runs}"
    for run_id, ti in retried:
        assert api.run_state("ingest_market_candle", run_id) == "success"
        first_try = _try_log(api, run_id, ti["map_index"], 1)
        assert "ClickHouse" in first_try and "no offset was committed" in first_try, first_try[-3000:]


def test_a_killed_clickhouse_server_is_restarted_and_make_status_counts_it(stack, capsys):
    server = clickhouse.service(stack)
    old = server.pid()
    before = restarts(stack)["clickhouse"]
    os.kill(old, signal.SIGKILL)
    took = wait_until(
        lambda: server.pid() not in (None, old) and clickhouse.ping(stack),
        what="the ClickHouse server to answer again",
        timeout=30,
    )
    ch = clickhouse.client(stack)
    try:
        assert ch.query("select count() from system.databases where name = 'raw'").result_rows[0][0] == 1
    finally:
        ch.close()
    assert restarts(stack)["clickhouse"] == before + 1
    wait_until(lambda: states(stack)["clickhouse"] == "RUNNING", what="clickhouse RUNNING", timeout=15)
    capsys.readouterr()
    status(stack)
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("clickhouse "))
    assert f"restarts {before + 1} " in line and "running" in line, line
    print(f"ClickHouse answered {took:.1f}s after SIGKILL")


def test_a_killed_scheduler_is_restarted_without_leaving_its_workers_behind(stack):
    scheduler = next(svc for svc in airflow.services(stack) if svc.name == "airflow-scheduler")
    old = scheduler.pid()
    group = _group_pids(old)  # the scheduler and its LocalExecutor workers
    killed_at = datetime.now(UTC)
    os.kill(old, signal.SIGKILL)
    took = wait_until(
        lambda: scheduler.pid() not in (None, old) and airflow_back(stack, since=killed_at),
        what="a new scheduler heartbeating",
        timeout=60,
    )
    left = [pid for pid in group if pid_alive(pid)]
    assert not left, f"processes of the killed scheduler still run: {left}"
    print(f"scheduler heartbeating {took:.1f}s after SIGKILL; {len(group) - 1} workers ended with it")
