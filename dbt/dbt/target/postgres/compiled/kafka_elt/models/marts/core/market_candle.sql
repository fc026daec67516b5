

with

partition_heads as (

    select * from "warehouse"."analytics"."int_market_candle_partition_heads"
    

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