"""Kafka -> raw staging tables in PostgreSQL and ClickHouse, exactly once in effect.

See README.md beside this file. Modules, in the order a run uses them:
- ``registry``: the topic registry (include/topics.yaml) as checked TopicSpecs.
- ``watcher``: the topic watcher (KafkaLagTrigger, in the triggerer) that starts a run
  when a partition holds messages the ingestion group has not committed.
- ``ddl``: applies the raw DDL templates (include/sql) idempotently in both engines.
- ``connections``: Kafka consumers, PostgreSQL and ClickHouse clients from Airflow
  connections (auto-commit forced off).
- ``kafka_log``: librdkafka's log and error callbacks (transient broker trouble grouped
  at warning level; an error only when the drain gives up).
- ``consumer``: the partition plan (high watermarks at run start), committed offsets.
- ``validators`` / ``batch``: message validation (poison -> dead letters) and batch columns.
- ``pg_binary``, ``postgres_sink``, ``clickhouse_sink``: idempotent batch writes.
- ``drain``: the bounded per-partition loop (write both databases, then commit).
- ``summary``: per-run totals and the log table.
- ``kill_report``: why the previous try of a task died (killed from outside or out of
  memory, from the cgroup's OOM counters and the peak RSS).
- ``errors``: the operator-facing exceptions. (Test sandboxes: ``tests/support/sandbox.py``.)

Nothing here imports Airflow, confluent_kafka or the database drivers at module level
except the modules that exist to use them, so DAG parsing stays cheap.
"""
