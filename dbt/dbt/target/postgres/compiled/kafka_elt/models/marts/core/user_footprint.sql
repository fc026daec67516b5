

with

web_footprints as (

    select * from "warehouse"."analytics"."stg_kafka__web_footprints" as staged
    where
        -- the cheap load-time window first: ClickHouse evaluates AND left to right and
        -- would otherwise decode the JSON of every raw row to test the others
        true
        and true
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