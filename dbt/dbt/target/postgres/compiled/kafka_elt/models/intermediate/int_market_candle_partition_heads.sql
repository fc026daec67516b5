

with

candle_messages as (

    select * from "warehouse"."analytics"."stg_kafka__market_candles"
    where
        -- the cheap load-time window first: ClickHouse evaluates AND left to right and
        -- would otherwise decode the JSON of every raw row to test the others
        ingested_at >= ((select coalesce(max(last_ingested_at), '-infinity'::timestamptz) from "warehouse"."analytics"."int_market_candle_partition_heads")) - interval '5 minutes'
        and code is not null
        and candle_timestamp is not null

),


stored_heads as (

    select * from "warehouse"."analytics"."int_market_candle_partition_heads"
    where (code, candle_timestamp, kafka_partition) in (
        select
            candle_messages.code,
            candle_messages.candle_timestamp,
            candle_messages.kafka_partition
        from candle_messages
    )

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

    
    union all

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
        latest_produced_at as seen_produced_at,
        last_ingested_at as seen_ingested_at,
        1 as is_stored

    from stored_heads
    

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