-- One row per raw candle message: its fields typed, every time in UTC. The drain decoded
-- each message (Connect envelope or bare payload) at load time into typed columns; rows
-- loaded before those existed (decoded_at_load false) are decoded from the JSON value
-- here, to the same result. Prices stay exactly as the producer wrote them (see
-- double_to_decimal); no business rules here, "latest wins" is decided downstream.
with

source as (

    select * from {{ source('kafka', 'market_candle') }} {{ kafka_elt.deduplicated() }}

),

with_json_fallback as (

    {{ kafka_elt.select_json_fallback('source', 'kafka_value', 'decoded_at_load') }}

),

renamed as (

    select
        -- Kafka coordinates: the identity of the message
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- candle
        lower({{ kafka_elt.decoded_or_json('candle_type', kafka_elt.json_string('json_payload', 'type')) }})
            as candle_type,
        {{ kafka_elt.decoded_or_json('code', kafka_elt.json_string('json_payload', 'code')) }} as code,
        {{ kafka_elt.decoded_or_json('candle_timestamp', kafka_elt.json_integer('json_payload', 'timestamp')) }}
            as candle_timestamp,
        {{ kafka_elt.double_to_decimal(kafka_elt.decoded_or_json(
            'opening_price', kafka_elt.json_double('json_payload', 'opening_price'))) }} as opening_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.decoded_or_json(
            'high_price', kafka_elt.json_double('json_payload', 'high_price'))) }} as high_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.decoded_or_json(
            'low_price', kafka_elt.json_double('json_payload', 'low_price'))) }} as low_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.decoded_or_json(
            'trade_price', kafka_elt.json_double('json_payload', 'trade_price'))) }} as trade_price,
        {{ kafka_elt.double_to_decimal(kafka_elt.decoded_or_json(
            'candle_acc_trade_volume', kafka_elt.json_double('json_payload', 'candle_acc_trade_volume'))) }}
            as candle_acc_trade_volume,
        {{ kafka_elt.double_to_decimal(kafka_elt.decoded_or_json(
            'candle_acc_trade_price', kafka_elt.json_double('json_payload', 'candle_acc_trade_price'))) }}
            as candle_acc_trade_price,
        -- feeds spell it REALTIME or realtime: one spelling downstream (see the data contract)
        lower({{ kafka_elt.decoded_or_json('stream_type', kafka_elt.json_string('json_payload', 'stream_type')) }})
            as stream_type,

        -- message metadata
        coalesce({{ kafka_elt.decoded_or_json('is_connect_envelope', 'json_is_connect_envelope') }}, false)
            as is_connect_envelope,
        {{ kafka_elt.kafka_timestamp('kafka_timestamp') }} as produced_at,
        ingested_at,
        dag_run_id

    from with_json_fallback

),

final as (

    select
        *,
        {{ kafka_elt.epoch_seconds_to_utc('candle_timestamp') }} as candle_started_at

    from renamed

)

select * from final
