-- The fields the drain decoded from each market_candle message (Connect envelope or bare
-- payload), stored beside kafka_value so that dbt reads typed columns instead of parsing
-- the JSON of every row on every read. Names, types and order: settings.KIND_COLUMNS.
-- decoded_at_load is false, and the others NULL, in rows loaded before these columns
-- existed: dbt decodes kafka_value for those rows only.
--
-- An ALTER rather than columns in the CREATE, so that tables created before get them
-- too. Adding a nullable column, or one with a constant default, changes only the
-- catalog: no table rewrite, however large the table. ALTER TABLE takes the table's
-- exclusive lock even when every column exists, so kafka_elt.ingest.ddl skips this
-- statement then (every ingestion run applies the DDL). ${schema}.${table} come from
-- the topic registry.
alter table ${schema}.${table}
add column if not exists decoded_at_load boolean not null default false,
add column if not exists is_connect_envelope boolean,
add column if not exists candle_type text,
add column if not exists code text,
add column if not exists candle_timestamp bigint,
add column if not exists opening_price double precision,
add column if not exists high_price double precision,
add column if not exists low_price double precision,
add column if not exists trade_price double precision,
add column if not exists candle_acc_trade_volume double precision,
add column if not exists candle_acc_trade_price double precision,
add column if not exists stream_type text;
