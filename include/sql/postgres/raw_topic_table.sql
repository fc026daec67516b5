-- One raw staging table per topic, keyed by the message's Kafka coordinates so that a
-- re-read offset is a no-op (insert ... on conflict do nothing). The value is kept
-- exactly as received (valid UTF-8 JSON, checked by the loader); decoding it is dbt's
-- job. kafka_headers: JSON array of [key, value] pairs, a value being its UTF-8 text,
-- null, or "base64:<...>". ${schema}.${table} come from the topic registry.
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

-- dbt's incremental models and source freshness select on the load time. BRIN, not
-- btree: rows arrive in load-time order, so block ranges summarise it well, and it
-- costs ~1.5 us less server CPU per loaded row (measured with binary COPY).
create index if not exists ${table}_ingested_at_idx on ${schema}.${table} using brin (ingested_at);
