-- Schema of the raw layer and the dead-letter table. Idempotent: applied before every
-- ingestion run. ${schema} is substituted by kafka_elt (string.Template).
create schema if not exists ${schema};

-- Messages that could not be decoded or validated: kept byte for byte with the reason,
-- so that nothing read from Kafka is ever lost.
create table if not exists ${schema}.dead_letter (
    kafka_topic text not null,
    kafka_partition integer not null,
    kafka_offset bigint not null,
    kafka_key bytea,
    kafka_value bytea,
    kafka_timestamp timestamptz,
    kafka_headers jsonb,
    error_reason text not null,
    ingested_at timestamptz not null default now(),
    dag_run_id text,
    primary key (kafka_topic, kafka_partition, kafka_offset)
);
