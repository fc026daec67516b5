

with

 __dbt__cte__stg_kafka__market_candles as (

-- Fixture for stg_kafka__market_candles
select cast(null as text) as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(10 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(100 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:05+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(11 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(101 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:03+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(7 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('BTC-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(102 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:04+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:01+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(12 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast('ETH-USD' as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(50 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast(null as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
union all
select cast(null as text) as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(13 as bigint)
 as "kafka_offset", cast(null as text) as "candle_type", 
    
    cast(null as text)
 as "code", 
    
    cast(1617090000 as bigint)
 as "candle_timestamp", cast(null as numeric(38,10)) as "opening_price", cast(null as numeric(38,10)) as "high_price", cast(null as numeric(38,10)) as "low_price", 
    
    cast(1 as numeric(38,10))
 as "trade_price", cast(null as numeric(38,10)) as "candle_acc_trade_volume", cast(null as numeric(38,10)) as "candle_acc_trade_price", cast(null as text) as "stream_type", cast(null as boolean) as "is_connect_envelope", 
    
    cast('2021-03-30 07:40:06+00:00' as timestamp with time zone)
 as "produced_at", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id", cast(null as timestamp with time zone) as "candle_started_at"
), candle_messages as (

    select * from __dbt__cte__stg_kafka__market_candles
    where
        -- the cheap load-time window first: ClickHouse evaluates AND left to right and
        -- would otherwise decode the JSON of every raw row to test the others
        true
        and code is not null
        and candle_timestamp is not null

),



candidates as (

    select
        code,
        candle_timestamp,
        kafka_partition,
        kafka_offset,
        candle_type,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,
        candle_started_at,
        produced_at,
        -- a missing Kafka timestamp sorts before every real one
        coalesce(produced_at, to_timestamp(0)) as seen_produced_at,
        ingested_at as seen_ingested_at,
        0 as is_stored

    from candle_messages

    

),

ranked as (

    select
        *,
        row_number() over (
            partition by code, candle_timestamp, kafka_partition
            order by kafka_offset desc
        ) as offset_rank,
        max(seen_produced_at) over (
            partition by code, candle_timestamp, kafka_partition
        ) as partition_latest_produced_at,
        max(seen_ingested_at) over (
            partition by code, candle_timestamp, kafka_partition
        ) as partition_last_ingested_at,
        -- what the table holds now (NULL for a new head, and on a full build)
        max(case when is_stored = 1 then kafka_offset end) over (
            partition by code, candle_timestamp, kafka_partition
        ) as stored_kafka_offset,
        max(case when is_stored = 1 then seen_produced_at end) over (
            partition by code, candle_timestamp, kafka_partition
        ) as stored_latest_produced_at

    from candidates

),

final as (

    select
        code as code,
        candle_timestamp as candle_timestamp,
        kafka_partition,
        kafka_offset,
        candle_type,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        stream_type,
        candle_started_at as candle_started_at,
        -- the head message's own Kafka timestamp, and the newest one in the partition
        produced_at,
        partition_latest_produced_at as latest_produced_at,
        partition_last_ingested_at as last_ingested_at

    from ranked
    where
        offset_rank = 1
        -- new or changed heads only
        and (
            stored_kafka_offset is null
            or kafka_offset != stored_kafka_offset
            or partition_latest_produced_at != stored_latest_produced_at
        )

)

select * from final