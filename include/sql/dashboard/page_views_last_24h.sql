-- Page views per hour over the last 24 hours of data
-- "Last 24 hours" ends at the newest hour in the mart, not at now(): the answer then
-- depends on the data only, so both engines (and re-runs) see the same window.
-- The bound is a scalar subquery, computed once, so that both engines can use their
-- sorting key / index on hour_started_at (a CTE read twice would be materialised by
-- PostgreSQL and scanned in full).
with

newest as (
    select max(hour_started_at) as newest_hour_started_at
    from analytics.page_views_hourly
),

last_24_hours as (
    select
        hour_started_at,
        page_view_count
    from analytics.page_views_hourly
    where hour_started_at > (select newest.newest_hour_started_at from newest) - interval '24' hour
),

final as (
    select
        hour_started_at,
        cast(sum(page_view_count) as bigint) as page_views
    from last_24_hours
    group by hour_started_at
)

select * from final
order by hour_started_at
