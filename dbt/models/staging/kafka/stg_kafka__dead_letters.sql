-- Messages the ingestion rejected, with the reason. The raw bytes stay in the raw
-- table (their type differs between the engines); this model is for counting and
-- alerting.
with

source as (

    select * from {{ source('kafka', 'dead_letter') }} {{ kafka_elt.deduplicated() }}

),

final as (

    select
        kafka_topic,
        kafka_partition,
        kafka_offset,
        error_reason,
        {{ kafka_elt.kafka_timestamp('kafka_timestamp') }} as produced_at,
        ingested_at,
        dag_run_id

    from source

)

select * from final
