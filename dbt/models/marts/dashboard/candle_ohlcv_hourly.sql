-- Hourly OHLCV per code, rolled up from the 1-minute candles in market_candle:
-- open = the first candle's opening price, close = the last candle's trade price,
-- high = max, low = min, volumes summed, over the candles that carry prices. Hours are UTC.
{{
    config(
        engine='MergeTree()',
        order_by=['code', 'hour_started_at'],
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['code', 'hour_started_at'], 'unique': True},
        ]),
    )
}}

with

market_candle as (

    select * from {{ ref('market_candle') }}

),

candles as (

    select
        code,
        {{ kafka_elt.utc_hour('candle_started_at') }} as hour_started_at,
        "timestamp" as candle_timestamp,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        updated_at

    from market_candle
    -- priced candles only: a candle may come without prices (all four or none)
    where opening_price is not null

),

ordered as (

    select
        *,
        row_number() over (
            partition by code, hour_started_at order by candle_timestamp asc
        ) as first_rank,
        row_number() over (
            partition by code, hour_started_at order by candle_timestamp desc
        ) as last_rank

    from candles

),

hourly as (

    select
        code,
        hour_started_at,
        max(case when first_rank = 1 then opening_price end) as open_price,
        max(high_price) as high_price,
        min(low_price) as low_price,
        max(case when last_rank = 1 then trade_price end) as close_price,
        sum(candle_acc_trade_volume) as trade_volume,
        sum(candle_acc_trade_price) as trade_value,
        count(*) as candle_count,
        max(updated_at) as last_updated_at

    from ordered
    group by 1, 2

),

typed as (

    select
        code,
        {{ kafka_elt.assume_not_null('hour_started_at') }} as hour_started_at,
        cast(open_price as {{ kafka_elt.decimal_type() }}) as open_price,
        cast(high_price as {{ kafka_elt.decimal_type() }}) as high_price,
        cast(low_price as {{ kafka_elt.decimal_type() }}) as low_price,
        cast(close_price as {{ kafka_elt.decimal_type() }}) as close_price,
        cast(trade_volume as {{ kafka_elt.decimal_type() }}) as trade_volume,
        cast(trade_value as {{ kafka_elt.decimal_type() }}) as trade_value,
        cast(candle_count as {{ dbt.type_bigint() }}) as candle_count,
        last_updated_at

    from hourly

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('candle_ohlcv_hourly') }} as row_checksum

    from typed

)

select * from final
