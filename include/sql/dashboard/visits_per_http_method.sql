-- Visits per HTTP method, all page visits
-- Scans the whole user_footprint mart (one row per visit): the heaviest question.
-- Ties in the count are broken by the method name (upper-case ASCII, so every
-- collation orders it the same way).
with

user_footprint as (
    select request
    from analytics.user_footprint
),

final as (
    select
        request as http_method,
        cast(count(*) as bigint) as visits
    from user_footprint
    group by request
)

select * from final
order by visits desc, http_method asc
