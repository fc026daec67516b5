-- One row per raw candle message: the Connect envelope (or bare payload) decoded,
-- typed, every time in UTC. Prices stay exactly as the producer wrote them (see
-- double_to_decimal); no business rules here, "latest wins" is decided downstream.
with

source as (

    select * from {{ source('kafka', 'market_candle') }} {{ kafka_elt.deduplicated() }}

),

unwrapped as (

    {{ kafka_elt.select_connect_payload('source', 'kafka_value') }}

),

renamed as (

    select
        -- Kafka coordinates: the identity of the message
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- candle
        lower({{ kafka_elt.json_string('payload', 'type') }}) as candle_type,
        {{ kafka_elt.json_string('payload', 'code') }} as code,
        {{ kafka_elt.json_integer('payload', 'timestamp') }} as candle_timestamp,
        {{ kafka_elt.double_to_decimal(kafka_elt.json_double('payload', 'opening_price')) }} as opening_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.json_double('payload', 'high_price')) }} as high_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.json_double('payload', 'low_price')) }} as low_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.json_double('payload', 'trade_price')) }} as trade_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.json_double('payload', 'candle_acc_trade_volume')) }}
            as candle_acc_trade_volume,
        {{ kafka_elt.double_to_decimal(kafka_elt.json_double('payload', 'candle_acc_trade_price')) }}
            as candle_acc_trade_price,
        -- feeds spell it REALTIME or realtime: one spelling downstream (see the data contract)
        lower({{ kafka_elt.json_string('payload', 'stream_type') }}) as stream_type,

        -- message metadata
        is_connect_envelope,
        {{ kafka_elt.kafka_timestamp('kafka_timestamp') }} as produced_at,
        ingested_at,
        dag_run_id

    from unwrapped

),

final as (

    select
        *,
        {{ kafka_elt.epoch_seconds_to_utc('candle_timestamp') }} as candle_started_at

    from renamed

)

select * from final
