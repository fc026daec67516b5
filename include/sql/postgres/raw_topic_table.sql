-- One raw staging table per topic, keyed by the message's Kafka coordinates so that a
-- re-read offset is a no-op (insert ... on conflict do nothing). The value is kept
-- exactly as received; decoding is dbt's job. ${schema}.${table} is substituted by
-- kafka_elt (string.Template) from the topic registry.
create table if not exists ${schema}.${table} (
    kafka_topic text not null,
    kafka_partition integer not null,
    kafka_offset bigint not null,
    kafka_key bytea,
    kafka_value text not null,
    kafka_timestamp timestamptz,
    kafka_headers jsonb,
    ingested_at timestamptz not null default now(),
    dag_run_id text,
    primary key (kafka_topic, kafka_partition, kafka_offset)
);

create index if not exists ${table}_ingested_at_idx on ${schema}.${table} (ingested_at);
