

with

web_footprints as (

    select * from "warehouse"."analytics"."stg_kafka__web_footprints" as staged
    where
        -- the cheap load-time window first: ClickHouse evaluates AND left to right and
        -- would otherwise decode the JSON of every raw row to test the others
        staged.ingested_at >= ((select coalesce(max(ingested_at), '-infinity'::timestamptz) from "warehouse"."analytics"."user_footprint")) - interval '5 minutes'
        and not exists (
        select 1 from "warehouse"."analytics"."user_footprint" as existing
        where
            ingested_at >= ((select coalesce(max(ingested_at), '-infinity'::timestamptz) from "warehouse"."analytics"."user_footprint")) - interval '5 minutes'
            and existing.kafka_topic = staged.kafka_topic
            and existing.kafka_partition = staged.kafka_partition
            and existing.kafka_offset = staged.kafka_offset
    )
        and staged.footprint_at is not null
        and staged.link is not null
        and staged.http_method is not null

),

final as (

    select
        footprint_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- the old consumer's columns
        link as link,
        http_method as request,
        footprint_at as footprint_time,

        link_path as link_path,
        cast((footprint_at) at time zone 'UTC' as date) as visit_date,

        produced_at,
        ingested_at

    from web_footprints

)

select * from final