{#-
    Per mart: row count and an order-independent checksum of its business columns,
    computed so that PostgreSQL and ClickHouse give identical numbers for identical
    data (see mart_checksum and canonical_text). The dashboard compares this table
    across the two databases. Load metadata (ingested_at) and physical versions are left
    out: they differ between the databases by design.

    A mart that does not exist yet (its topic has sent nothing since the stack was set
    up, so dbt_marts never built it) counts as empty: 0 rows, checksum 0, on both engines.
-#}
{{
    config(
        engine='MergeTree()',
        order_by=['mart_name'],
    )
}}

with

checksums as (

    {{ kafka_elt.mart_checksum('market_candle', ref('market_candle'), [
        ['type', 'text'], ['code', 'text'], ['"timestamp"', 'integer'],
        ['opening_price', 'decimal'], ['high_price', 'decimal'], ['low_price', 'decimal'],
        ['trade_price', 'decimal'], ['candle_acc_trade_volume', 'decimal'],
        ['candle_acc_trade_price', 'decimal'], ['stream_type', 'text'],
        ['candle_started_at', 'timestamp'], ['updated_at', 'timestamp'],
        ['kafka_partition', 'integer'], ['kafka_offset', 'integer'],
    ]) }}

    union all

    {{ kafka_elt.mart_checksum('user_footprint', ref('user_footprint'), [
        ['footprint_id', 'text'], ['kafka_topic', 'text'], ['kafka_partition', 'integer'],
        ['kafka_offset', 'integer'], ['link', 'text'], ['request', 'text'],
        ['footprint_time', 'timestamp'], ['link_path', 'text'], ['visit_date', 'date'],
        ['produced_at', 'timestamp'],
    ]) }}

    union all

    {{ kafka_elt.mart_checksum('page_views_hourly', ref('page_views_hourly'), [
        ['hour_started_at', 'timestamp'], ['visit_date', 'date'], ['link_path', 'text'],
        ['page_view_count', 'integer'],
    ]) }}

    union all

    {{ kafka_elt.mart_checksum('top_links_daily', ref('top_links_daily'), [
        ['visit_date', 'date'], ['link_rank', 'integer'], ['link_path', 'text'],
        ['page_view_count', 'integer'],
    ]) }}

    union all

    {{ kafka_elt.mart_checksum('candle_ohlcv_hourly', ref('candle_ohlcv_hourly'), [
        ['code', 'text'], ['hour_started_at', 'timestamp'], ['open_price', 'decimal'],
        ['high_price', 'decimal'], ['low_price', 'decimal'], ['close_price', 'decimal'],
        ['trade_volume', 'decimal'], ['trade_value', 'decimal'], ['candle_count', 'integer'],
        ['last_updated_at', 'timestamp'],
    ]) }}

    union all

    {{ kafka_elt.mart_checksum('latest_price', ref('latest_price'), [
        ['code', 'text'], ['latest_candle_started_at', 'timestamp'],
        ['latest_trade_price', 'decimal'], ['updated_at', 'timestamp'],
        ['reference_candle_started_at', 'timestamp'], ['reference_trade_price', 'decimal'],
        ['change_24h', 'decimal'], ['change_24h_pct', 'decimal'],
        ['trade_volume_24h', 'decimal'], ['trade_value_24h', 'decimal'],
    ]) }}

),

final as (

    select * from checksums

)

select * from final
