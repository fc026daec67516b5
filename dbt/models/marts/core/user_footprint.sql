{#-
    One row per page-visit event. Identity: the Kafka coordinates (topic, partition,
    offset), also as footprint_id. The old consumer's columns (link, request,
    footprint_time in UTC) plus the visited path and the UTC visit date.

    Incremental and idempotent: each run reads the offsets after the newest one stored
    per partition (after_stored_offsets), so an event is read once and every run writes
    keys the table does not hold yet: PostgreSQL merges them (a key written twice would
    be updated onto itself), ClickHouse inserts them (insert_new_keys_strategy; the
    ReplacingMergeTree's sort key ends with the event's identity, so a replay would
    still collapse, and the grain test would see it until then).
-#}
{{
    config(
        unique_key=['kafka_topic', 'kafka_partition', 'kafka_offset'],
        incremental_strategy=kafka_elt.insert_new_keys_strategy(),
        projections=kafka_elt.stored_offsets_projections(),
        settings=kafka_elt.stored_offsets_table_settings(),
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['kafka_topic', 'kafka_partition', 'kafka_offset'], 'unique': True},
            {'columns': ['ingested_at']},
            {'columns': ['produced_at']},
            {'columns': ['built_at']},
            {'columns': ['visit_date']},
        ]),
        engine='ReplacingMergeTree(ingested_at)',
        partition_by='toYYYYMM(visit_date)',
        order_by=['visit_date', 'link_path', 'kafka_topic', 'kafka_partition', 'kafka_offset'],
    )
}}

with

web_footprints as (

    select * from {{ ref('stg_kafka__web_footprints') }} as staged
    where
        -- the offsets after those already stored, first: ClickHouse evaluates AND left
        -- to right and would otherwise compute the others for every raw row
        {{ kafka_elt.after_stored_offsets('staged') }}
        and staged.footprint_at is not null
        and staged.link is not null
        and staged.http_method is not null

),

typed as (

    select
        footprint_id,
        kafka_topic,
        kafka_partition,
        kafka_offset,

        -- the old consumer's columns
        {{ kafka_elt.assume_not_null('link') }} as link,
        {{ kafka_elt.assume_not_null('http_method') }} as request,
        {{ kafka_elt.assume_not_null('footprint_at') }} as footprint_time,

        {{ kafka_elt.assume_not_null('link_path') }} as link_path,
        {{ kafka_elt.assume_not_null(kafka_elt.utc_date('footprint_at')) }} as visit_date,

        produced_at,
        ingested_at,
        -- the dbt run that wrote the row: the dashboard marts read the rows written
        -- since their own last run
        {{ kafka_elt.run_started() }} as built_at

    from web_footprints

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('user_footprint') }} as row_checksum

    from typed

)

select * from final
