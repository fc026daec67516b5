
  
    

  create  table "warehouse"."analytics"."top_links_daily__dbt_tmp"
  
  
    as
  
  (
    -- The most visited paths of each UTC day (var top_links_per_day), ranked. Ties in the
-- view count are broken by the path's bytes, so both engines keep the same links.


with

user_footprint as (

    select * from "warehouse"."analytics"."user_footprint"

),

daily as (

    select
        visit_date,
        link_path,
        count(*) as page_view_count

    from user_footprint
    group by 1, 2

),

ranked as (

    select
        *,
        row_number() over (
            partition by visit_date
            order by page_view_count desc, (link_path) collate "C"
        ) as link_rank

    from daily

),

final as (

    select
        visit_date,
        cast(link_rank as integer) as link_rank,
        link_path,
        cast(page_view_count as bigint) as page_view_count

    from ranked
    where link_rank <= 10

)

select * from final
  );
  