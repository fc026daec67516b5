-- Page views per hour over the last 24 hours of data
-- "Last 24 hours" ends at the newest hour in the mart, not at now(): the answer then
-- depends on the data only, so both engines (and re-runs) see the same window.
with

page_views_hourly as (
    select
        hour_started_at,
        page_view_count
    from analytics.page_views_hourly
),

newest as (
    select max(hour_started_at) as newest_hour_started_at
    from page_views_hourly
),

final as (
    select
        page_views_hourly.hour_started_at,
        cast(sum(page_views_hourly.page_view_count) as bigint) as page_views
    from page_views_hourly
    cross join newest
    where page_views_hourly.hour_started_at > newest.newest_hour_started_at - interval '24' hour
    group by page_views_hourly.hour_started_at
)

select * from final
order by hour_started_at
