-- Schema of the raw layer and its dead-letter table. Idempotent: applied by every
-- ingestion run. The dollar-brace placeholders are substituted by
-- kafka_elt.ingest.ddl (string.Template) from the topic registry.

-- `create schema if not exists` checks the CREATE privilege on the database before it
-- looks for the schema, so the loader (which owns the schema but may not create
-- schemas) would fail on it; only create the schema when it is missing.
do $$
begin
    if not exists (select from pg_namespace where nspname = '${schema}') then
        create schema ${schema};
    end if;
end
$$;

-- Messages that could not be decoded or validated, kept byte for byte with the reason,
-- so that nothing read from Kafka is lost. Keyed like the raw tables: a re-read poison
-- message is a no-op.
create table if not exists ${schema}.${dead_letter_table} (
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
