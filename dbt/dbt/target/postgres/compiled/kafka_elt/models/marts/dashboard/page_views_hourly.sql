-- Page views per visited path per UTC hour.


with

user_footprint as (

    select * from "warehouse"."analytics"."user_footprint"

),

hourly as (

    select
        date_trunc('hour', footprint_time, 'UTC') as hour_started_at,
        link_path,
        count(*) as page_view_count

    from user_footprint
    group by 1, 2

),

final as (

    select
        hour_started_at as hour_started_at,
        cast((hour_started_at) at time zone 'UTC' as date) as visit_date,
        link_path,
        cast(page_view_count as bigint) as page_view_count

    from hourly

)

select * from final