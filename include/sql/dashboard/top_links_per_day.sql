-- Top 10 links per day, the last 7 days of data
-- The mart ranks the links of each UTC day (ties broken by the path's bytes, the same
-- on both engines); the rank is the tie-breaker here too. The window ends at the
-- newest day in the mart (a scalar subquery, computed once).
with

newest as (
    select max(visit_date) as newest_visit_date
    from analytics.top_links_daily
),

final as (
    select
        visit_date,
        link_rank,
        link_path,
        page_view_count
    from analytics.top_links_daily
    where
        link_rank <= 10
        and visit_date > (select newest.newest_visit_date from newest) - interval '7' day
)

select * from final
order by visit_date desc, link_rank asc
