"""Names the pipeline, the dashboard and the local stack share, declared once.

Constants only: importing this module reads no file and opens no connection, so DAG
files and the triggerer may import it at top level. The runtime (``ingest/``,
``dashboard/``, ``transform/``, the DAGs) takes its names from here and never imports
``kafka_elt.stack``, the local launcher that generates secrets and is not part of the
Airflow image.

Where a list must also live in SQL or YAML (the raw tables' DDL, dbt's sources and
models), ``tests/unit/test_settings.py`` fails when a copy drifts from this one.
"""

from __future__ import annotations

import os
from pathlib import Path

# The repository (or the image's copy of it): plugins/kafka_elt/settings.py -> root.
ROOT = Path(__file__).resolve().parents[2]
# The image mounts include/ and dbt/ elsewhere than beside plugins/; these say where.
INCLUDE_DIR = Path(os.environ.get("KAFKA_ELT_INCLUDE_DIR", ROOT / "include"))
SQL_DIR = INCLUDE_DIR / "sql"
REGISTRY_FILE = INCLUDE_DIR / "topics.yaml"
DBT_PROJECT_DIR = Path(os.environ.get("DBT_PROJECT_DIR", ROOT / "dbt"))

# Airflow connection ids. Their URIs come from AIRFLOW_CONN_* env vars or a secrets
# backend (the local stack writes them into .stack/env).
KAFKA_CONN_ID = "kafka_default"
POSTGRES_CONN_ID = "warehouse_postgres"
CLICKHOUSE_CONN_ID = "warehouse_clickhouse"

# The two warehouse engines, in the order every report lists them, with their labels.
ENGINES = ("postgres", "clickhouse")
ENGINE_LABELS = {"postgres": "PostgreSQL", "clickhouse": "ClickHouse"}
ENGINE_CONN_IDS = {"postgres": POSTGRES_CONN_ID, "clickhouse": CLICKHOUSE_CONN_ID}

# The environment variable naming a replicated ClickHouse cluster (its <remote_servers>
# name; README, "Distributed"), read by dbt/profiles.yml and, when it applies the DDL, by
# kafka_elt.ingest.ddl. Unset or empty: one server.
CLICKHOUSE_CLUSTER_ENV = "CLICKHOUSE_CLUSTER"

# The marts dbt builds in both engines (schema ``analytics``), compared row by row and by
# checksum in ``mart_checksums``; each is an Airflow Asset emitted by ``dbt_marts``.
MART_SCHEMA = "analytics"
MARTS = (
    "market_candle",
    "user_footprint",
    "page_views_hourly",
    "top_links_daily",
    "candle_ohlcv_hourly",
    "latest_price",
)

# Columns of every raw topic table, in the DDL's order (include/sql/*/raw_topic_table.sql
# and dbt's sources). The message's Kafka coordinates are the key.
RAW_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_key",
    "kafka_value",
    "kafka_timestamp",
    "kafka_headers",
    "ingested_at",
    "dag_run_id",
)
# The dead-letter table holds the same columns and why the message was refused.
DEAD_LETTER_COLUMNS = (*RAW_COLUMNS[:7], "error_reason", *RAW_COLUMNS[7:])

# The drain decodes every message to validate it (msgspec); the business fields it
# decoded are stored beside the value, so that dbt reads typed columns instead of parsing
# the JSON of every row. After RAW_COLUMNS each raw table has DECODED_AT_LOAD (true when
# the drain filled the columns below; false in rows loaded before they existed, which dbt
# decodes from kafka_value), then its kind's columns, in this order: (name, PostgreSQL
# type, ClickHouse type), LowCardinality for the few-valued texts. The DDL
# (include/sql/*/raw_decoded_<kind>.sql), the sinks, dbt's sources and the validators'
# tuples follow these; tests/unit/test_settings.py checks them.
DECODED_AT_LOAD = "decoded_at_load"
DECODED_AT_LOAD_TYPES = ("boolean not null default false", "Bool default false")
KIND_COLUMNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "market_candle": (
        ("is_connect_envelope", "boolean", "Nullable(Bool)"),
        ("candle_type", "text", "LowCardinality(Nullable(String))"),  # the payload's "type", as sent
        ("code", "text", "LowCardinality(Nullable(String))"),
        ("candle_timestamp", "bigint", "Nullable(Int64)"),  # the payload's "timestamp": epoch seconds
        ("opening_price", "double precision", "Nullable(Float64)"),
        ("high_price", "double precision", "Nullable(Float64)"),
        ("low_price", "double precision", "Nullable(Float64)"),
        ("trade_price", "double precision", "Nullable(Float64)"),
        ("candle_acc_trade_volume", "double precision", "Nullable(Float64)"),
        ("candle_acc_trade_price", "double precision", "Nullable(Float64)"),
        ("stream_type", "text", "LowCardinality(Nullable(String))"),  # as sent
    ),
    "footprint": (
        ("link", "text", "Nullable(String)"),
        ("method", "text", "LowCardinality(Nullable(String))"),  # as sent
        ("footprint_time", "text", "Nullable(String)"),  # as sent
        ("footprint_at", "timestamptz", "Nullable(DateTime64(6, 'UTC'))"),  # footprint_time in UTC
    ),
}
