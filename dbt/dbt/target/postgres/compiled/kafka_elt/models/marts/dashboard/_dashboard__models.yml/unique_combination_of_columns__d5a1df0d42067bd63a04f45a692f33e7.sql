

with

grain as (

    select
        hour_started_at, link_path,
        count(*) as row_count

    from "warehouse"."analytics"."page_views_hourly"
    group by hour_started_at, link_path

),

violations as (

    select * from grain
    where
        row_count > 1
        or hour_started_at is null
        or link_path is null

)

select * from violations

