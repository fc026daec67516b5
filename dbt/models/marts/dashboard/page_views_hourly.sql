{#-
    Page views per visited path per UTC hour.

    Incremental: the hours of the page visits written since the newest run this table
    holds (user_footprint.built_at) are counted again in full and upserted by
    (hour_started_at, link_path). A visit is never removed from user_footprint, so a
    (hour, path) once counted only grows and no row has to be deleted. Over a year of
    visits this table holds millions of rows (one per hour and path visited): rebuilding
    it on every run cost 30-60 s on PostgreSQL in bench/volume.py. top_links_daily reads
    it by built_at, so it refreshes its statistics after each write (refresh_statistics).
-#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        unique_key=['hour_started_at', 'link_path'],
        incremental_strategy=kafka_elt.upsert_strategy(),
        settings=kafka_elt.upsert_table_settings(),
        post_hook=["{{ kafka_elt.refresh_statistics() }}"],
        engine='ReplacingMergeTree(built_at)',
        order_by=['hour_started_at', 'link_path'],
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['hour_started_at', 'link_path'], 'unique': True},
            {'columns': ['visit_date']},
            {'columns': ['built_at']},
        ]),
    )
}}

with

{% if is_incremental() %}
changed_hours as (

    select distinct
        {{ kafka_elt.utc_hour('footprint_time') }} as hour_started_at,
        visit_date

    from {{ ref('user_footprint') }}
    where {{ kafka_elt.newer_than_stored('built_at', 'built_at') }}

),

-- the days of the changed hours as one range. The planner cannot know how few days
-- the changed hours hold: PostgreSQL estimated the IN list below at half of 10M page
-- visits and read them all (6.9 s for 3 changed hours); a range between two scalar
-- subqueries it estimates small, and reads by the index on visit_date
changed_days as (

    select
        min(visit_date) as first_day,
        max(visit_date) as last_day

    from changed_hours

),
{% endif %}

user_footprint as (

    select * from {{ ref('user_footprint') }}
    {% if is_incremental() %}
    -- the days first: both engines find them by index (PostgreSQL) or sort key
    where
        visit_date >= (select changed_days.first_day from changed_days)
        and visit_date <= (select changed_days.last_day from changed_days)
        and visit_date in (select changed_hours.visit_date from changed_hours)
        and {{ kafka_elt.utc_hour('footprint_time') }} in (select changed_hours.hour_started_at from changed_hours)
    {% endif %}

),

hourly as (

    select
        {{ kafka_elt.utc_hour('footprint_time') }} as hour_started_at,
        link_path,
        count(*) as page_view_count,
        max(built_at) as built_at

    from user_footprint
    group by 1, 2

),

typed as (

    select
        {{ kafka_elt.assume_not_null('hour_started_at') }} as hour_started_at,
        {{ kafka_elt.utc_date('hour_started_at') }} as visit_date,
        link_path,
        cast(page_view_count as {{ dbt.type_bigint() }}) as page_view_count,
        -- the newest run that wrote one of the hour's visits
        {{ kafka_elt.assume_not_null('built_at') }} as built_at

    from hourly

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('page_views_hourly') }} as row_checksum

    from typed

)

select * from final
