
    -- Build actual result given inputs
with dbt_internal_unit_test_actual as (
  select
    "code","latest_trade_price","updated_at","reference_candle_started_at","reference_trade_price","change_24h","change_24h_pct","trade_volume_24h","trade_value_24h", 'actual' as "actual_or_expected"
  from (
    -- The latest price per code, with the change over 24 hours and the 24-hour volume.
-- "Latest" is the newest candle of the code; the reference price is the trade price of
-- the newest candle at least 24 hours older (NULL while less than a day of data exists).


with

 __dbt__cte__market_candle as (

-- Fixture for market_candle
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617000000 as bigint)
 as "timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(40000 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(40000 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-29 06:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", cast(null as timestamp with time zone) as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617003600 as bigint)
 as "timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(44000 as numeric(38,10))
 as "trade_price", 
    
    cast(2 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(88000 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-29 07:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", cast(null as timestamp with time zone) as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(45500 as numeric(38,10))
 as "trade_price", 
    
    cast(3 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(136500 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 07:40:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(2000 as numeric(38,10))
 as "trade_price", 
    
    cast(4 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(8000 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", cast(null as timestamp with time zone) as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('XRP-USD' as text)
 as "code", 
    
    cast(1617000000 as bigint)
 as "timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(3 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(3 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-29 06:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", cast(null as timestamp with time zone) as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('XRP-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(2 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(2 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", cast(null as timestamp with time zone) as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
), market_candle as (

    select * from __dbt__cte__market_candle

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
                when candles.candle_timestamp <= latest_per_code.latest_candle_timestamp - 86400
                    then candles.candle_timestamp
            end
        ) as reference_candle_timestamp,
        sum(
            case
                when candles.candle_timestamp > latest_per_code.latest_candle_timestamp - 86400
                    then candles.candle_acc_trade_volume
            end
        ) as trade_volume_24h,
        sum(
            case
                when candles.candle_timestamp > latest_per_code.latest_candle_timestamp - 86400
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

final as (

    select
        code,
        latest_candle_started_at,
        latest_trade_price,
        updated_at,
        reference_candle_started_at,
        reference_trade_price,
        cast(latest_trade_price - reference_trade_price as numeric(38, 10)) as change_24h,
        case
        when (reference_trade_price) <> 0
            then cast(
                div(((latest_trade_price - reference_trade_price) * 100) * 1000000, reference_trade_price) / 1000000
                as numeric(38, 6)
            )
    end as change_24h_pct,
        cast(trade_volume_24h as numeric(38, 10)) as trade_volume_24h,
        cast(trade_value_24h as numeric(38, 10)) as trade_value_24h

    from joined

)

select * from final
  ) _dbt_internal_unit_test_actual
),
-- Build expected result
dbt_internal_unit_test_expected as (
  select
    "code", "latest_trade_price", "updated_at", "reference_candle_started_at", "reference_trade_price", "change_24h", "change_24h_pct", "trade_volume_24h", "trade_value_24h", 'expected' as "actual_or_expected"
  from (
    select 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(45500 as numeric(38,10))
 as "latest_trade_price", 
    
    cast('2021-03-30 07:40:59+00:00' as timestamp with time zone)
 as "updated_at", 
    
    cast('2021-03-29 07:40:00+00:00' as timestamp with time zone)
 as "reference_candle_started_at", 
    
    cast(44000 as numeric(38,10))
 as "reference_trade_price", 
    
    cast(1500 as numeric(38,10))
 as "change_24h", 
    
    cast('3.409090' as numeric)
 as "change_24h_pct", 
    
    cast(3 as numeric(38,10))
 as "trade_volume_24h", 
    
    cast(136500 as numeric(38,10))
 as "trade_value_24h"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(2000 as numeric(38,10))
 as "latest_trade_price", 
    
    cast(null as timestamp with time zone)
 as "updated_at", 
    
    cast(null as timestamp with time zone)
 as "reference_candle_started_at", 
    
    cast(null as numeric(38,10))
 as "reference_trade_price", 
    
    cast(null as numeric(38,10))
 as "change_24h", 
    
    cast(null as numeric)
 as "change_24h_pct", 
    
    cast(4 as numeric(38,10))
 as "trade_volume_24h", 
    
    cast(8000 as numeric(38,10))
 as "trade_value_24h"
union all
select 
    
    cast('XRP-USD' as text)
 as "code", 
    
    cast(2 as numeric(38,10))
 as "latest_trade_price", 
    
    cast(null as timestamp with time zone)
 as "updated_at", 
    
    cast('2021-03-29 06:40:00+00:00' as timestamp with time zone)
 as "reference_candle_started_at", 
    
    cast(3 as numeric(38,10))
 as "reference_trade_price", 
    
    cast(-1 as numeric(38,10))
 as "change_24h", 
    
    cast('-33.333333' as numeric)
 as "change_24h_pct", 
    
    cast(1 as numeric(38,10))
 as "trade_volume_24h", 
    
    cast(2 as numeric(38,10))
 as "trade_value_24h"
  ) _dbt_internal_unit_test_expected
)
-- Union actual and expected results
select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected