"""Kafka -> raw staging tables in PostgreSQL and ClickHouse, exactly once in effect.

Modules, in the order a run uses them:
- ``registry``: the topic registry (include/topics.yaml) as TopicSpecs.
- ``validators``: per-kind message validation (poison messages -> dead letters).
- ``ddl``: applies the raw DDL templates idempotently in both engines.
- ``consumer``: Kafka consumers through the Airflow connection (auto-commit off),
  partition plans (watermarks at run start).
- ``batch``: turns Kafka messages into raw rows and dead-letter rows.
- ``postgres_sink`` / ``clickhouse_sink``: idempotent batch writes.
- ``drain``: the bounded per-partition loop (read, write both, then commit).
- ``summary``: per-run totals and the log table.

Nothing here imports Airflow, confluent_kafka or the database drivers at module level
except where a module exists to use them, so DAG parsing stays cheap.
"""
