-- One row per raw page-visit event: its fields typed, footprint time in UTC. The drain
-- decoded each event at load time into typed columns (footprint_at: footprint_time
-- parsed to UTC); rows loaded before those existed (decoded_at_load false) are decoded
-- from the JSON value here, to the same result.
with

source as (

    select * from {{ source('kafka', 'web_logs') }} {{ kafka_elt.deduplicated() }}

),

with_json_fallback as (

    {{ kafka_elt.select_json_fallback('source', 'kafka_value', 'decoded_at_load') }}

),

renamed as (

    select
        -- Kafka coordinates: the identity of the event
        {{ kafka_elt.surrogate_key([
            ['kafka_topic', 'text'], ['kafka_partition', 'integer'], ['kafka_offset', 'integer']
        ]) }} as footprint_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- visit
        {{ kafka_elt.decoded_or_json('link', kafka_elt.json_string('json_payload', 'link')) }} as link,
        -- methods are registered in upper case; a client sending get means GET
        upper({{ kafka_elt.decoded_or_json('method', kafka_elt.json_string('json_payload', 'method')) }})
            as http_method,
        {{ kafka_elt.decoded_or_json(
            'footprint_at', kafka_elt.iso8601_to_utc(kafka_elt.json_string('json_payload', 'footprint_time'))
        ) }} as footprint_at,

        -- message metadata
        {{ kafka_elt.kafka_timestamp('kafka_timestamp') }} as produced_at,
        ingested_at,
        dag_run_id

    from with_json_fallback

),

final as (

    select
        footprint_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,
        link,
        -- the link without query string or fragment: what page was visited
        {{ kafka_elt.strip_query_string('link') }} as link_path,
        http_method,
        footprint_at,
        produced_at,
        ingested_at,
        dag_run_id

    from renamed

)

select * from final
