-- One row per raw page-visit event: decoded, typed, footprint time converted to UTC.
with

source as (

    select * from {{ source('kafka', 'web_logs') }} {{ kafka_elt.deduplicated() }}

),

unwrapped as (

    {{ kafka_elt.select_connect_payload('source', 'kafka_value') }}

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
        {{ kafka_elt.json_string('payload', 'link') }} as link,
        -- methods are registered in upper case; a client sending get means GET
        upper({{ kafka_elt.json_string('payload', 'method') }}) as http_method,
        {{ kafka_elt.json_string('payload', 'footprint_time') }} as footprint_time_text,

        -- message metadata
        {{ kafka_elt.kafka_timestamp('kafka_timestamp') }} as produced_at,
        ingested_at,
        dag_run_id

    from unwrapped

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
        {{ kafka_elt.iso8601_to_utc('footprint_time_text') }} as footprint_at,
        produced_at,
        ingested_at,
        dag_run_id

    from renamed

)

select * from final
