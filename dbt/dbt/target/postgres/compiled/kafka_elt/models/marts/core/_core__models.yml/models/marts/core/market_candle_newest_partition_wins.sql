

with

 __dbt__cte__int_market_candle_partition_heads as (

-- Fixture for int_market_candle_partition_heads
select 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(11 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(101 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:03+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:05+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(7 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(102 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:04+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:04+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:30+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(3 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(50 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", 
    
    cast(2 as integer)
 as "kafka_partition", 
    
    cast(4 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(51 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:40:00+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
union all
select 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090060 as bigint)
 as "candle_timestamp", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(5 as bigint)
 as "kafka_offset", 
    
    cast('candle' as text)
 as "candle_type", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(52 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as timestamp with time zone) as "candle_started_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "latest_produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "last_ingested_at"
), partition_heads as (

    select * from __dbt__cte__int_market_candle_partition_heads
    

),



ranked as (

    select
        *,
        row_number() over (
            partition by code, candle_timestamp
            order by latest_produced_at desc, kafka_partition desc
        ) as recency_rank,
        max(last_ingested_at) over (
            partition by code, candle_timestamp
        ) as candle_last_ingested_at

    from partition_heads

),

winners as (

    select
        -- the old sink's columns (public.market_candle), same names and meaning
        candle_type as type,
        code,
        candle_timestamp as "timestamp",
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,

        -- when the candle starts (UTC) and when it was last updated (the Kafka
        -- timestamp that made the winning message latest)
        candle_started_at,
        latest_produced_at as updated_at,

        -- lineage of the winning message
        kafka_partition,
        kafka_offset,
        cast(
            cast(floor(extract(epoch from latest_produced_at) * 1000) as bigint) * 1000000 + kafka_partition
            as bigint
        ) as record_version,
        candle_last_ingested_at as last_ingested_at

    from ranked
    where recency_rank = 1

),

final as (

    select winners.*
    from winners
    

)

select * from final