-- The fields the drain decoded from each page-visit (footprint) message, stored beside
-- kafka_value so that dbt reads typed columns instead of parsing the JSON of every row
-- on every read. Names, types and order: settings.KIND_COLUMNS. footprint_time is the
-- text as sent, footprint_at the same instant in UTC (parsed by the validator).
-- decoded_at_load is false, and the others NULL, in rows loaded before these columns
-- existed: dbt decodes kafka_value for those rows only.
--
-- ALTERs for tables created before; metadata only. See raw_decoded_market_candle.sql
-- for why kafka_elt.ingest.ddl skips those whose column exists.
alter table ${schema}.${table} add column if not exists decoded_at_load Bool default false;
alter table ${schema}.${table} add column if not exists link Nullable(String);
alter table ${schema}.${table} add column if not exists method LowCardinality(Nullable(String));
alter table ${schema}.${table} add column if not exists footprint_time Nullable(String);
alter table ${schema}.${table} add column if not exists footprint_at Nullable(DateTime64(6, 'UTC'));
