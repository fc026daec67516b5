-- Top 10 links per day, the last 7 days of data
-- The mart ranks the links of each UTC day (ties broken by the path's bytes, the same
-- on both engines); the rank is the tie-breaker here too.
with

top_links_daily as (
    select
        visit_date,
        link_rank,
        link_path,
        page_view_count
    from analytics.top_links_daily
    where link_rank <= 10
),

newest as (
    select max(visit_date) as newest_visit_date
    from top_links_daily
),

final as (
    select
        top_links_daily.visit_date,
        top_links_daily.link_rank,
        top_links_daily.link_path,
        top_links_daily.page_view_count
    from top_links_daily
    cross join newest
    where top_links_daily.visit_date > newest.newest_visit_date - interval '7' day
)

select * from final
order by visit_date desc, link_rank asc
