

with

checked as (

    select * from "warehouse"."analytics"."top_links_daily"
    where link_rank is not null

),

violations as (

    select * from checked
    where not coalesce(link_rank between 1 and 10, false)

)

select * from violations

