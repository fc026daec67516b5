-- The fields the drain decoded from each market_candle message (Connect envelope or bare
-- payload), stored beside kafka_value so that dbt reads typed columns instead of parsing
-- the JSON of every row on every read. Names, types and order: settings.KIND_COLUMNS.
-- decoded_at_load is false, and the others NULL, in rows loaded before these columns
-- existed: dbt decodes kafka_value for those rows only.
--
-- ALTERs rather than columns in the CREATE, so that tables created before get them
-- too. Adding a column changes only the table's metadata: parts written before return
-- the default until they are merged. ClickHouse rewrites the metadata even when the
-- column exists, so kafka_elt.ingest.ddl skips an ALTER whose column exists (every
-- ingestion run applies the DDL). One column per ALTER: sqlfluff's ClickHouse dialect
-- parses no more.
alter table ${schema}.${table} add column if not exists decoded_at_load Bool default false;
alter table ${schema}.${table} add column if not exists is_connect_envelope Nullable(Bool);
alter table ${schema}.${table} add column if not exists candle_type LowCardinality(Nullable(String));
alter table ${schema}.${table} add column if not exists code LowCardinality(Nullable(String));
alter table ${schema}.${table} add column if not exists candle_timestamp Nullable(Int64);
alter table ${schema}.${table} add column if not exists opening_price Nullable(Float64);
alter table ${schema}.${table} add column if not exists high_price Nullable(Float64);
alter table ${schema}.${table} add column if not exists low_price Nullable(Float64);
alter table ${schema}.${table} add column if not exists trade_price Nullable(Float64);
alter table ${schema}.${table} add column if not exists candle_acc_trade_volume Nullable(Float64);
alter table ${schema}.${table} add column if not exists candle_acc_trade_price Nullable(Float64);
alter table ${schema}.${table} add column if not exists stream_type LowCardinality(Nullable(String));
