

with

grain as (

    select
        visit_date, link_path,
        count(*) as row_count

    from "warehouse"."analytics"."top_links_daily"
    group by visit_date, link_path

),

violations as (

    select * from grain
    where
        row_count > 1
        or visit_date is null
        or link_path is null

)

select * from violations

