{#-
    The most visited paths of each UTC day (var top_links_per_day), ranked. Ties in the
    view count are broken by the path's bytes, so both engines keep the same links.

    Counted from page_views_hourly (a day is the sum of its hours), which is much
    smaller than the visits. Incremental: the days with an hour written since the
    newest run this table holds are ranked again and upserted by (visit_date, link_rank);
    a day's count of paths only grows, so ranks 1..n are rewritten and none is left over.
-#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        unique_key=['visit_date', 'link_rank'],
        incremental_strategy=kafka_elt.upsert_strategy(),
        settings=kafka_elt.upsert_table_settings(),
        engine='ReplacingMergeTree(built_at)',
        order_by=['visit_date', 'link_rank'],
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['visit_date', 'link_rank'], 'unique': True},
        ]),
    )
}}

with

page_views_hourly as (

    select * from {{ ref('page_views_hourly') }}
    {% if is_incremental() %}
    where
        visit_date in (
            select changed.visit_date
            from {{ ref('page_views_hourly') }} as changed
            where {{ kafka_elt.newer_than_stored('changed.built_at', 'built_at') }}
        )
    {% endif %}

),

daily as (

    select
        visit_date,
        link_path,
        sum(page_view_count) as page_view_count,
        max(built_at) as built_at

    from page_views_hourly
    group by 1, 2

),

ranked as (

    select
        *,
        row_number() over (
            partition by visit_date
            order by page_view_count desc, {{ kafka_elt.bytewise('link_path') }}
        ) as link_rank,
        max(built_at) over (partition by visit_date) as day_built_at

    from daily

),

typed as (

    select
        visit_date,
        cast(link_rank as {{ dbt.type_int() }}) as link_rank,
        link_path,
        cast(page_view_count as {{ dbt.type_bigint() }}) as page_view_count,
        -- the newest run that wrote one of the day's hours
        {{ kafka_elt.assume_not_null('day_built_at') }} as built_at

    from ranked
    where link_rank <= {{ var('top_links_per_day') | int }}

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('top_links_daily') }} as row_checksum

    from typed

)

select * from final
