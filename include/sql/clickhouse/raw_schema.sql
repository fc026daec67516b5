-- Database of the raw layer and its dead-letter table. Idempotent. The placeholders
-- (dollar-brace names) are substituted by kafka_elt.ingest.ddl from the topic registry.
create database if not exists ${schema};

-- ReplacingMergeTree ordered by the Kafka coordinates: a re-inserted offset has the
-- same sorting key and collapses to one row on merge. The loader also skips offsets it
-- already stored, so counts are exact without FINAL; the engine is the backstop for
-- two writers racing on one partition. No partition key: rows sharing a key must share
-- a partition to be deduplicated. fsync on insert: the loader commits Kafka offsets
-- right after the insert returns, so the rows must be on disk by then.
create table if not exists ${schema}.${dead_letter_table} (
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    kafka_key Nullable(String),
    kafka_value Nullable(String),
    kafka_timestamp Nullable(DateTime64(3, 'UTC')),
    kafka_headers String,
    error_reason String,
    ingested_at DateTime64(6, 'UTC'),
    dag_run_id String
)
engine = ReplacingMergeTree(ingested_at)
order by (kafka_topic, kafka_partition, kafka_offset)
settings fsync_after_insert = 1, fsync_part_directory = 1;
