"""Airflow Assets of the warehouse: raw tables (emitted by the ingestion DAGs) and marts
(emitted by ``dbt_marts``), one per table and engine.

Names read ``<engine>.<schema>.<table>``; URIs ``x-kafka-elt://<engine>/<schema>/<table>``.
The URIs use a private scheme (``x-`` is left alone by Airflow's URI normalisation)
because a table is addressed by engine and name, not by one host's URL: the same DAGs
run against the local stack, docker compose or production, and the Assets must stay
the same for the schedules that depend on them.

- ``topic_asset(spec)``: a Kafka topic, watched by ``KafkaLagTrigger`` in the triggerer;
  its events (messages waiting to be loaded) start ``ingest_<table>``.
- ``RAW_ASSETS``: every registry topic's raw table in both engines. ``ingest_<table>``
  emits its two when a run loaded new rows; ``dbt_marts`` is scheduled on any of them.
- ``MART_ASSETS``: ``dbt_marts`` emits them when both targets are built;
  ``dashboard_benchmark`` is scheduled on them.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from kafka_elt.ingest.registry import TopicSpec, load_registry
from kafka_elt.settings import ENGINES, KAFKA_CONN_ID, MART_SCHEMA, MARTS


def table_asset(engine: str, schema: str, table: str) -> Asset:
    """The Asset of one table in one engine (``engine``: postgres or clickhouse)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {ENGINES}")
    return Asset(name=f"{engine}.{schema}.{table}", uri=f"x-kafka-elt://{engine}/{schema}/{table}")


def topic_asset(spec: TopicSpec) -> Asset:
    """The Kafka topic of a registry entry; with ``watch`` on, its watcher fires an event
    whenever the topic holds messages the ingestion consumer group has not committed."""
    watchers = []
    if spec.watch:
        from kafka_elt.ingest.watcher import KafkaLagTrigger

        trigger = KafkaLagTrigger(
            topic=spec.topic,
            group_id=spec.consumer_group,
            kafka_conn_id=KAFKA_CONN_ID,
            poll_interval=spec.watch_interval_seconds,
            debounce=spec.debounce_seconds,
        )
        watchers.append(AssetWatcher(name=f"{spec.dag_id}_lag", trigger=trigger))
    return Asset(name=f"kafka.{spec.topic}", uri=f"x-kafka-elt://kafka/{spec.topic}", watchers=watchers)


def raw_table_assets(spec: TopicSpec) -> list[Asset]:
    """The raw table of one registry topic, in PostgreSQL and in ClickHouse."""
    return [table_asset(engine, spec.raw_schema, spec.table) for engine in ENGINES]


RAW_ASSETS: list[Asset] = [asset for spec in load_registry() for asset in raw_table_assets(spec)]

MART_ASSETS: list[Asset] = [table_asset(engine, MART_SCHEMA, mart) for engine in ENGINES for mart in MARTS]
