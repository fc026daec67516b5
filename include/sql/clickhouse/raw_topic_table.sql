-- One raw staging table per topic. See raw_schema.sql for why ReplacingMergeTree and
-- why no partition key. ${schema}.${table} substituted from the topic registry.
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
order by (kafka_topic, kafka_partition, kafka_offset);
