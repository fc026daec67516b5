"""Messages arrive -> the topic watchers start the ingestion runs -> dbt_marts follows ->
the messages are in both engines' marts, with no run triggered by hand, also across a
restart of the triggerer that runs the watchers.

Runs against the real stack and the pipeline's own DAGs, topics and marts (that is the
path under test). The messages carry a marker (link path and candle code unique to this
test) so that the check finds exactly them among whatever else the stack holds.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

pytestmark = pytest.mark.integration

# Bounded waits: the pipeline delivers in well under a minute on a quiet machine.
DELIVERY_TIMEOUT_S = 300
PIPELINE_DAGS = ("ingest_market_candle", "ingest_web_logs", "dbt_marts")


@pytest.fixture(scope="module")
def api(stack):
    from kafka_elt.stack.airflow import AirflowApi

    api = AirflowApi(stack)
    for dag_id in PIPELINE_DAGS:
        api.wait_for_dag(dag_id)
        api.unpause(dag_id)
    yield api
    # Leave the stack quiet for the tests that follow: no run of this test still going.
    from kafka_elt.demo import Watch

    watch = Watch(api, [*PIPELINE_DAGS, "dashboard_benchmark"])
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while watch.describe()[1] and time.monotonic() < deadline:
        time.sleep(2)


def _triggerer(stack):
    from kafka_elt.stack import airflow

    (service,) = [s for s in airflow.services(stack) if s.name == "airflow-triggerer"]
    return service


def _produce(bootstrap: str, topic: str, values: list[str]) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"})
    for value in values:
        producer.produce(topic, value.encode())
    assert producer.flush(30) == 0


def _footprints(marker: str, n: int) -> list[str]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [json.dumps({"link": f"/{marker}/{i}", "method": "GET", "footprint_time": now}) for i in range(n)]


def _candles(code: str, n: int) -> list[str]:
    minute = int(time.time()) // 60 * 60
    return [
        json.dumps(
            {
                "type": "candle",
                "code": code,
                "opening_price": 10.0,
                "high_price": 10.0 + i,
                "low_price": 9.0,
                "trade_price": 10.0 + i,
                "candle_acc_trade_volume": 1.0 + i,
                "candle_acc_trade_price": 10.0 + i,
                "timestamp": minute - 60 * i,
                "stream_type": "realtime",
            }
        )
        for i in range(n)
    ]


def _counts(pg_conn, ch_client, marker: str, code: str) -> dict[str, tuple[int, int]]:
    """engine -> (footprint rows with the marker, candle rows with the code)."""
    with pg_conn.cursor() as cur:
        cur.execute(
            "select (select count(*) from analytics.user_footprint where link_path like %s),"
            " (select count(*) from analytics.market_candle where code = %s)",
            (f"/{marker}/%", code),
        )
        pg = cur.fetchone()
    pg_conn.commit()
    ch = ch_client.query(
        "select (select count() from analytics.user_footprint final where startsWith(link_path, {p:String})),"
        " (select count() from analytics.market_candle final where code = {c:String})",
        parameters={"p": f"/{marker}/", "c": code},
    ).result_rows[0]
    return {"postgres": (int(pg[0]), int(pg[1])), "clickhouse": (int(ch[0]), int(ch[1]))}


def _wait_for(pg_conn, ch_client, marker, code, expected, timeout) -> float:
    started = time.monotonic()
    while True:
        try:
            counts = _counts(pg_conn, ch_client, marker, code)
        except Exception:  # a mart may be missing until the first dbt run of a fresh stack
            pg_conn.rollback()
            counts = {}
        if all(counts.get(engine) == expected for engine in ("postgres", "clickhouse")):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            pytest.fail(f"after {timeout}s the marts hold {counts}, expected {expected} in each engine")
        time.sleep(1)


def _runs_since(api, dag_id: str, since: datetime) -> list[dict]:
    runs = api.runs(dag_id, limit=50)
    return [r for r in runs if (r.get("queued_at") or "") >= since.isoformat().replace("+00:00", "Z")]


def test_messages_reach_both_marts_through_watchers_and_asset_events(
    api, stack, kafka_bootstrap, pg_conn, ch_client
):
    marker = f"it-watch-{uuid.uuid4().hex[:10]}"
    code = f"ITW-{uuid.uuid4().hex[:6].upper()}"
    since = datetime.now(UTC)

    _produce(kafka_bootstrap, "web-logs-topic", _footprints(marker, 30))
    _produce(kafka_bootstrap, "market_candle", _candles(code, 5))
    first = _wait_for(pg_conn, ch_client, marker, code, (30, 5), DELIVERY_TIMEOUT_S)

    # The watcher's state is Kafka's: messages produced while the triggerer is down are
    # seen when it is back. And messages arriving while a run is active are taken by a
    # later run, not by the clock: a third burst follows while the second is loading.
    triggerer = _triggerer(stack)
    triggerer.stop()
    try:
        _produce(kafka_bootstrap, "web-logs-topic", _footprints(marker + "/b", 10))
    finally:
        triggerer.start()
    time.sleep(3)
    _produce(kafka_bootstrap, "web-logs-topic", _footprints(marker + "/c", 10))
    second = _wait_for(pg_conn, ch_client, marker, code, (50, 5), DELIVERY_TIMEOUT_S)
    print(f"first burst in both marts after {first:.1f}s, the rest (triggerer restarted) after {second:.1f}s")

    for dag_id in PIPELINE_DAGS:
        runs = _runs_since(api, dag_id, since)
        kinds = {r["run_type"] for r in runs}
        assert "asset_triggered" in kinds, f"{dag_id}: no asset-triggered run since the messages ({runs})"
        assert "manual" not in kinds, f"{dag_id} was triggered by hand: {runs}"
        # One active run at a time, at most: the watcher and asset events fold, never pile up.
        assert sum(1 for r in runs if r["state"] in ("queued", "running")) <= 1
