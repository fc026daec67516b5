-- One row per raw candle message: the Connect envelope (or bare payload) decoded,
-- typed, every time in UTC. Prices stay exactly as the producer wrote them (see
-- double_to_decimal); no business rules here, "latest wins" is decided downstream.
with

 __dbt__cte__kafka__market_candle as (

-- Fixture for market_candle
select 
    
    cast('market_candle' as text)
 as "kafka_topic", 
    
    cast(0 as integer)
 as "kafka_partition", 
    
    cast(1 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"schema": {"type": "struct", "name": "market_candle", "optional": false, "fields": [{"field": "type", "type": "string"}]}, "payload": {"type": "candle", "code": "BTC-USD", "opening_price": 45000.0, "high_price": 46000.0, "low_price": 44000.0, "trade_price": 45500.0, "candle_acc_trade_volume": 1234.5, "candle_acc_trade_price": 56000000.0, "timestamp": 1617090000, "stream_type": "realtime"}}' as text)
 as "kafka_value", 
    
    cast('2021-03-30 07:40:01.250+00:00' as timestamp with time zone)
 as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", 
    
    cast('2021-03-30 07:40:02+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id"
union all
select 
    
    cast('market_candle' as text)
 as "kafka_topic", 
    
    cast(1 as integer)
 as "kafka_partition", 
    
    cast(9 as bigint)
 as "kafka_offset", cast(null as bytea) as "kafka_key", 
    
    cast('{"type": "candle", "code": "ETH-USD", "opening_price": 0.1, "high_price": 0.30000000000000004, "low_price": 1e-05, "trade_price": 0.2, "candle_acc_trade_volume": 12.345678901234, "candle_acc_trade_price": 3, "timestamp": 1617090060, "stream_type": "snapshot"}' as text)
 as "kafka_value", 
    
    cast('2021-03-30 07:41:00+00:00' as timestamp with time zone)
 as "kafka_timestamp", cast(null as jsonb) as "kafka_headers", 
    
    cast('2021-03-30 07:41:02+00:00' as timestamp with time zone)
 as "ingested_at", cast(null as text) as "dag_run_id"
), source as (

    select * from __dbt__cte__kafka__market_candle 

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