-- Database of the raw layer and the dead-letter table. Idempotent. ${schema} is
-- substituted by kafka_elt (string.Template); statements are separated by ";".
create database if not exists ${schema};

-- ReplacingMergeTree ordered by the Kafka coordinates: a re-inserted offset is the
-- same sorting key and collapses to one row on merge (the loader also skips offsets it
-- already stored, so counts are exact without FINAL). No partition key: rows with one
-- key must share a partition to be deduplicated.
create table if not exists ${schema}.dead_letter (
    kafka_topic LowCardinality(String),
    kafka_partition Int32,
    kafka_offset Int64,
    kafka_key Nullable(String),
    kafka_value String,
    kafka_timestamp Nullable(DateTime64(3, 'UTC')),
    kafka_headers String,
    error_reason String,
    ingested_at DateTime64(6, 'UTC'),
    dag_run_id String
)
engine = ReplacingMergeTree(ingested_at)
order by (kafka_topic, kafka_partition, kafka_offset);
