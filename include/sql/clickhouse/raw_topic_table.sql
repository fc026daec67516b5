-- One raw staging table per topic; see raw_schema.sql for the engine, the missing
-- partition key and fsync. kafka_value holds the message bytes exactly as received
-- (valid UTF-8 JSON, checked by the loader); kafka_headers is the same JSON text as in
-- PostgreSQL. ${schema}.${table} come from the topic registry.
create table if not exists ${schema}.${table} (
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    kafka_key Nullable(String),
    kafka_value String,
    kafka_timestamp Nullable(DateTime64(3, 'UTC')),
    kafka_headers String,
    ingested_at DateTime64(6, 'UTC'),
    dag_run_id String
)
engine = ReplacingMergeTree(ingested_at)
order by (kafka_topic, kafka_partition, kafka_offset)
settings fsync_after_insert = 1, fsync_part_directory = 1;
