-- The latest price per code, with the change over 24 hours and the 24-hour volume.
-- "Latest" is the newest candle of the code; the reference price is the trade price of
-- the newest candle at least 24 hours older (NULL while less than a day of data exists).
{{
    config(
        engine='MergeTree()',
        order_by=['code'],
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['code'], 'unique': True},
        ]),
    )
}}

{%- set day_seconds = 86400 %}

with

-- per code: the newest priced candle, the newest one a day older, the last day's sums
-- (macros/latest_candles.sql: index probes on PostgreSQL; on ClickHouse one pass for the
-- sums, then the two candles per code by the sorting key)
{{ kafka_elt.latest_candles(ref('market_candle'), day_seconds) }},

typed as (

    select
        code,
        latest_candle_started_at,
        latest_trade_price,
        updated_at,
        reference_candle_started_at,
        reference_trade_price,
        cast(latest_trade_price - reference_trade_price as {{ kafka_elt.decimal_type() }}) as change_24h,
        {{ kafka_elt.decimal_divide(
            '(latest_trade_price - reference_trade_price) * 100', 'reference_trade_price', 6
        ) }} as change_24h_pct,
        cast(trade_volume_24h as {{ kafka_elt.decimal_type() }}) as trade_volume_24h,
        cast(trade_value_24h as {{ kafka_elt.decimal_type() }}) as trade_value_24h

    from joined

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('latest_price') }} as row_checksum

    from typed

)

select * from final
