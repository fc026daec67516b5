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

    {{ kafka_elt.mart_checksum('market_candle', ref('market_candle')) }}

    union all

    {{ kafka_elt.mart_checksum('user_footprint', ref('user_footprint')) }}

    union all

    {{ kafka_elt.mart_checksum('page_views_hourly', ref('page_views_hourly')) }}

    union all

    {{ kafka_elt.mart_checksum('top_links_daily', ref('top_links_daily')) }}

    union all

    {{ kafka_elt.mart_checksum('candle_ohlcv_hourly', ref('candle_ohlcv_hourly')) }}

    union all

    {{ kafka_elt.mart_checksum('latest_price', ref('latest_price')) }}

),

final as (

    select * from checksums

)

select * from final
