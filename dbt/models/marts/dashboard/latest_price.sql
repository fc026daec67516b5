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

market_candle as (

    select * from {{ ref('market_candle') }}

),

candles as (

    select
        code,
        "timestamp" as candle_timestamp,
        candle_started_at,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        updated_at

    from market_candle
    -- priced candles only: a candle may come without prices (all four or none)
    where trade_price is not null

),

latest_per_code as (

    select
        code,
        max(candle_timestamp) as latest_candle_timestamp

    from candles
    group by 1

),

windows as (

    select
        -- explicit names: ClickHouse would name these columns "candles.code" etc.
        candles.code as code,
        latest_per_code.latest_candle_timestamp as latest_candle_timestamp,
        max(
            case
                when candles.candle_timestamp <= latest_per_code.latest_candle_timestamp - {{ day_seconds }}
                    then candles.candle_timestamp
            end
        ) as reference_candle_timestamp,
        sum(
            case
                when candles.candle_timestamp > latest_per_code.latest_candle_timestamp - {{ day_seconds }}
                    then candles.candle_acc_trade_volume
            end
        ) as trade_volume_24h,
        sum(
            case
                when candles.candle_timestamp > latest_per_code.latest_candle_timestamp - {{ day_seconds }}
                    then candles.candle_acc_trade_price
            end
        ) as trade_value_24h

    from candles
    inner join latest_per_code
        on candles.code = latest_per_code.code
    group by 1, 2

),

joined as (

    select
        windows.code as code,
        latest_candle.candle_started_at as latest_candle_started_at,
        latest_candle.trade_price as latest_trade_price,
        latest_candle.updated_at as updated_at,
        reference_candle.candle_started_at as reference_candle_started_at,
        reference_candle.trade_price as reference_trade_price,
        windows.trade_volume_24h as trade_volume_24h,
        windows.trade_value_24h as trade_value_24h

    from windows
    inner join candles as latest_candle
        on
            windows.code = latest_candle.code
            and windows.latest_candle_timestamp = latest_candle.candle_timestamp
    left join candles as reference_candle
        on
            windows.code = reference_candle.code
            and windows.reference_candle_timestamp = reference_candle.candle_timestamp

),

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
