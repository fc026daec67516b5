-- Page views per visited path per UTC hour.
{{
    config(
        engine='MergeTree()',
        order_by=['hour_started_at', 'link_path'],
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['hour_started_at', 'link_path'], 'unique': True},
        ]),
    )
}}

with

user_footprint as (

    select * from {{ ref('user_footprint') }}

),

hourly as (

    select
        {{ kafka_elt.utc_hour('footprint_time') }} as hour_started_at,
        link_path,
        count(*) as page_view_count

    from user_footprint
    group by 1, 2

),

final as (

    select
        {{ kafka_elt.assume_not_null('hour_started_at') }} as hour_started_at,
        {{ kafka_elt.utc_date('hour_started_at') }} as visit_date,
        link_path,
        cast(page_view_count as {{ dbt.type_bigint() }}) as page_view_count

    from hourly

)

select * from final
