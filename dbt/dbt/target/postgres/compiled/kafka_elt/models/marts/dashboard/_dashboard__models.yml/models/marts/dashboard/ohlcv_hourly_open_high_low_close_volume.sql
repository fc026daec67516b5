-- Hourly OHLCV per code, rolled up from the 1-minute candles in market_candle:
-- open = the first candle's opening price, close = the last candle's trade price,
-- high = max, low = min, volumes summed. Hours are UTC.


with

 __dbt__cte__market_candle as (

-- Fixture for market_candle
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090060 as bigint)
 as "timestamp", 
    
    cast(11 as numeric(38,10))
 as "opening_price", 
    
    cast(15 as numeric(38,10))
 as "high_price", 
    
    cast(9 as numeric(38,10))
 as "low_price", 
    
    cast(12 as numeric(38,10))
 as "trade_price", 
    
    cast(2.5 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(30 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 07:41:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "timestamp", 
    
    cast(10 as numeric(38,10))
 as "opening_price", 
    
    cast(12 as numeric(38,10))
 as "high_price", 
    
    cast(8 as numeric(38,10))
 as "low_price", 
    
    cast(11 as numeric(38,10))
 as "trade_price", 
    
    cast(1.5 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(16 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 07:40:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617093540 as bigint)
 as "timestamp", 
    
    cast(13 as numeric(38,10))
 as "opening_price", 
    
    cast(14 as numeric(38,10))
 as "high_price", 
    
    cast(12 as numeric(38,10))
 as "low_price", 
    
    cast(13.5 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(13 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 08:39:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 08:39:59+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
union all
select cast(null as text) as "type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617091140 as bigint)
 as "timestamp", 
    
    cast(12 as numeric(38,10))
 as "opening_price", 
    
    cast(13 as numeric(38,10))
 as "high_price", 
    
    cast(11 as numeric(38,10))
 as "low_price", 
    
    cast(12.5 as numeric(38,10))
 as "trade_price", 
    
    cast(1 as numeric(38,10))
 as "candle_acc_trade_volume", 
    
    cast(12 as numeric(38,10))
 as "candle_acc_trade_price", cast(null as text) as "stream_type", 
    
    cast('2021-03-30 07:59:00+00:00' as timestamp with time zone)
 as "candle_started_at", 
    
    cast('2021-03-30 08:00:01+00:00' as timestamp with time zone)
 as "updated_at", cast(null as integer) as "kafka_partition", cast(null as bigint) as "kafka_offset", cast(null as bigint) as "record_version", cast(null as timestamp with time zone) as "last_ingested_at"
), market_candle as (

    select * from __dbt__cte__market_candle

),

candles as (

    select
        code,
        date_trunc('hour', candle_started_at, 'UTC') as hour_started_at,
        "timestamp" as candle_timestamp,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        updated_at

    from market_candle

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

final as (

    select
        code,
        hour_started_at as hour_started_at,
        cast(open_price as numeric(38, 10)) as open_price,
        cast(high_price as numeric(38, 10)) as high_price,
        cast(low_price as numeric(38, 10)) as low_price,
        cast(close_price as numeric(38, 10)) as close_price,
        cast(trade_volume as numeric(38, 10)) as trade_volume,
        cast(trade_value as numeric(38, 10)) as trade_value,
        cast(candle_count as bigint) as candle_count,
        last_updated_at

    from hourly

)

select * from final