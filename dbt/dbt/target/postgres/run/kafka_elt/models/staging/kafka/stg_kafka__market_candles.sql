
  create view "warehouse"."analytics"."stg_kafka__market_candles__dbt_tmp"
    
    
  as (
    -- One row per raw candle message: the Connect envelope (or bare payload) decoded,
-- typed, every time in UTC. Prices stay exactly as the producer wrote them (see
-- double_to_decimal); no business rules here, "latest wins" is decided downstream.
with

source as (

    select * from "warehouse"."raw"."market_candle" 

),

unwrapped as (

    select
        source.*,
        parsed.is_connect_envelope,
        parsed.payload

    from source
    cross join lateral (
        select
            coalesce(
        jsonb_typeof(message_json.message) = 'object'
        and (message_json.message) ? 'schema'
        and jsonb_typeof((message_json.message) -> 'payload') = 'object',
        false
    ) as is_connect_envelope,
            case
        when coalesce(
        jsonb_typeof(message_json.message) = 'object'
        and (message_json.message) ? 'schema'
        and jsonb_typeof((message_json.message) -> 'payload') = 'object',
        false
    ) then (message_json.message) -> 'payload'
        else message_json.message
    end as payload
        from (
            select cast(source.kafka_value as jsonb) as message
            limit all offset 0
        ) as message_json
        limit all offset 0
    ) as parsed

),

renamed as (

    select
        -- Kafka coordinates: the identity of the message
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- candle
        case
        when jsonb_typeof((payload) -> 'type') = 'string'
            then (payload) ->> 'type'
    end as candle_type,
        case
        when jsonb_typeof((payload) -> 'code') = 'string'
            then (payload) ->> 'code'
    end as code,
        case
        when jsonb_typeof((payload) -> 'timestamp') = 'number'
            and ((payload) ->> 'timestamp') ~ '^-?[0-9]{1,18}$'
            then cast((payload) ->> 'timestamp' as bigint)
    end as candle_timestamp,
        cast(trunc(cast(cast(case
        when jsonb_typeof((payload) -> 'opening_price') = 'number'
            then cast((payload) ->> 'opening_price' as double precision)
    end as text) as numeric), 10) as numeric(38, 10)) as opening_price,
        cast(trunc(cast(cast(case
        when jsonb_typeof((payload) -> 'high_price') = 'number'
            then cast((payload) ->> 'high_price' as double precision)
    end as text) as numeric), 10) as numeric(38, 10)) as high_price,
        cast(trunc(cast(cast(case
        when jsonb_typeof((payload) -> 'low_price') = 'number'
            then cast((payload) ->> 'low_price' as double precision)
    end as text) as numeric), 10) as numeric(38, 10)) as low_price,
        cast(trunc(cast(cast(case
        when jsonb_typeof((payload) -> 'trade_price') = 'number'
            then cast((payload) ->> 'trade_price' as double precision)
    end as text) as numeric), 10) as numeric(38, 10)) as trade_price,
        cast(trunc(cast(cast(case
        when jsonb_typeof((payload) -> 'candle_acc_trade_volume') = 'number'
            then cast((payload) ->> 'candle_acc_trade_volume' as double precision)
    end as text) as numeric), 10) as numeric(38, 10))
            as candle_acc_trade_volume,
        cast(trunc(cast(cast(case
        when jsonb_typeof((payload) -> 'candle_acc_trade_price') = 'number'
            then cast((payload) ->> 'candle_acc_trade_price' as double precision)
    end as text) as numeric), 10) as numeric(38, 10))
            as candle_acc_trade_price,
        case
        when jsonb_typeof((payload) -> 'stream_type') = 'string'
            then (payload) ->> 'stream_type'
    end as stream_type,

        -- message metadata
        is_connect_envelope,
        date_trunc('milliseconds', kafka_timestamp) as produced_at,
        ingested_at,
        dag_run_id

    from unwrapped

),

final as (

    select
        *,
        to_timestamp(candle_timestamp) as candle_started_at

    from renamed

)

select * from final
  );