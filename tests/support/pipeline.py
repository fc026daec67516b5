"""Driving the real pipeline from a test: its DAGs unpaused, messages produced to its own
topics, and the marts of both engines read back. Messages carry a marker (a candle code
or a link path unique to the test) so that a check finds exactly them."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

PIPELINE_DAGS = ("ingest_market_candle", "ingest_web_logs", "dbt_marts")
CANDLE_TOPIC, WEB_TOPIC = "market_candle", "web-logs-topic"
# Bounded waits: the pipeline delivers in well under a minute on a quiet machine.
DELIVERY_TIMEOUT_S = 300


def unpaused_pipeline(stack):
    """The Airflow API, with the pipeline's DAGs parsed and unpaused (event-driven)."""
    from kafka_elt.stack.airflow import AirflowApi

    api = AirflowApi(stack)
    for dag_id in PIPELINE_DAGS:
        api.wait_for_dag(dag_id)
        api.unpause(dag_id)
    return api


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    """Produce and wait for every acknowledgement (idempotent, acks=all)."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 20}
    )
    for value in values:
        while True:
            try:
                producer.produce(topic, value.encode())
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0


def markers() -> tuple[str, str]:
    """(link path prefix, candle code) unique to one test."""
    return f"it-{uuid.uuid4().hex[:10]}", f"IT-{uuid.uuid4().hex[:6].upper()}"


def footprints(marker: str, n: int) -> list[str]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [json.dumps({"link": f"/{marker}/{i}", "method": "GET", "footprint_time": now}) for i in range(n)]


def candles(code: str, n: int) -> list[str]:
    """``n`` consistent candles of one code, one per minute going back from now."""
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


def mart_counts(pg_conn, ch_client, marker: str, code: str) -> dict[str, tuple[int, int]]:
    """engine -> (footprint rows with the marker, candle rows with the code), both marts
    read as a dashboard reads them (ClickHouse without FINAL)."""
    with pg_conn.cursor() as cur:
        cur.execute(
            "select (select count(*) from analytics.user_footprint where link_path like %s),"
            " (select count(*) from analytics.market_candle where code = %s)",
            (f"/{marker}/%", code),
        )
        pg = cur.fetchone()
    pg_conn.commit()
    ch = ch_client.query(
        "select (select count() from analytics.user_footprint where startsWith(link_path, {p:String})),"
        " (select count() from analytics.market_candle where code = {c:String})",
        parameters={"p": f"/{marker}/", "c": code},
    ).result_rows[0]
    return {"postgres": (int(pg[0]), int(pg[1])), "clickhouse": (int(ch[0]), int(ch[1]))}


def wait_for_marts(
    pg_conn, ch_client, marker: str, code: str, expected: tuple[int, int], timeout: float
) -> float:
    """Seconds until both engines' marts hold ``expected`` rows of the markers; fails the
    test after ``timeout`` with what they hold."""
    started = time.monotonic()
    counts: dict = {}
    while time.monotonic() - started < timeout:
        try:
            counts = mart_counts(pg_conn, ch_client, marker, code)
        except Exception:  # a mart may be missing until the first dbt run of a fresh stack
            pg_conn.rollback()
            counts = {}
        if all(counts.get(engine) == expected for engine in ("postgres", "clickhouse")):
            return time.monotonic() - started
        time.sleep(1)
    pytest.fail(f"after {timeout}s the marts hold {counts}, expected {expected} in each engine")


def wait_quiet(api, timeout: float, dag_ids=(*PIPELINE_DAGS, "dashboard_benchmark")) -> None:
    """No run active and no asset event queued for the pipeline's DAGs."""
    from kafka_elt.demo import Watch

    watch = Watch(api, list(dag_ids))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line, busy = watch.describe()
        if not busy:
            return
        time.sleep(2)
    pytest.fail(f"the pipeline was still busy after {timeout}s: {line}")


def partition_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> high watermark of ``topic``."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "it-watermarks", "enable.auto.commit": False}
    )
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def offset_range_counts(
    pg_conn, ch_client, table: str, before: dict[int, int], after: dict[int, int], topic: str | None = None
) -> dict[str, tuple[int, int]]:
    """engine -> (rows, distinct offsets) of a raw or dead-letter table in the offset
    ranges [before, after) per partition (of ``topic`` when given): equal counts mean each
    message is there once."""
    ranges = " or ".join(
        f"(kafka_partition = {p} and kafka_offset >= {before[p]} and kafka_offset < {after[p]})"
        for p in after
    )
    where = f"kafka_topic = '{topic}' and ({ranges})" if topic else ranges
    with pg_conn.cursor() as cur:
        cur.execute(
            f"select count(*), count(distinct (kafka_partition, kafka_offset)) from {table} where {where}"
        )
        pg = cur.fetchone()
    pg_conn.commit()
    ch = ch_client.query(
        f"select count(), uniqExact(kafka_partition, kafka_offset) from {table} where {where}"
    ).result_rows[0]
    return {"postgres": (int(pg[0]), int(pg[1])), "clickhouse": (int(ch[0]), int(ch[1]))}
