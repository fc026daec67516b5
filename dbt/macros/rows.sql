{#-
    Row-level helpers built on the cross-engine primitives.
    `columns` is a list of [expression, kind] pairs; kind as in canonical_text.
-#}

{#- Canonical text of a row: its columns' canonical texts joined by '|'. -#}
{% macro row_text(columns) -%}
    concat(
    {%- for column in columns %}
        {{ kafka_elt.canonical_text(column[0], column[1]) }}{{ ", '|'," if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}


{#- A surrogate key: MD5 (hex) of the canonical text of the given columns. -#}
{% macro surrogate_key(columns) -%}
    {{ kafka_elt.md5_hex(kafka_elt.row_text(columns)) }}
{%- endmacro %}


{#- Row count and order-independent checksum of one relation, as one row
    (mart_name, row_count, checksum). The checksum is the sum, modulo 2^64, of the first
    60 bits of the MD5 of each row's canonical text, so equal sets of rows give equal
    numbers on both engines whatever the physical order or the engine's number
    formatting. Only business columns go in: load metadata (ingested_at) differs
    between the databases by design. -#}
{% macro mart_checksum(mart_name, relation, columns) -%}
    select
        cast('{{ mart_name }}' as {{ dbt.type_string() }}) as mart_name,
        cast(count(*) as {{ dbt.type_bigint() }}) as row_count,
        {{ kafka_elt.sum_mod_2_64(kafka_elt.md5_int60(kafka_elt.row_text(columns))) }} as checksum
    from {{ relation }}
{%- endmacro %}


{#- ClickHouse's raw tables are ReplacingMergeTree: a re-inserted offset stays a
    separate row until a merge. FINAL reads them merged, one row per (topic, partition,
    offset). PostgreSQL's primary key already guarantees that. In a unit test the
    source is a CTE of fixture rows, which FINAL cannot apply to (and needs no
    deduplication). -#}
{% macro deduplicated() -%}
    {{ return(adapter.dispatch('deduplicated', 'kafka_elt')()) }}
{%- endmacro %}

{% macro default__deduplicated() -%}
{%- endmacro %}

{% macro clickhouse__deduplicated() -%}
    {%- if model.resource_type != 'unit_test' -%}
    final
    {%- endif -%}
{%- endmacro %}


{#- Incremental filter: rows whose `column` is at or after the newest `this_column`
    already in {{ this }}, minus the lookback (var incremental_lookback_minutes). An
    empty target table selects everything. -#}
{% macro incremental_watermark(column, this_column) -%}
    {{ return(adapter.dispatch('incremental_watermark', 'kafka_elt')(column, this_column)) }}
{%- endmacro %}

{% macro postgres__incremental_watermark(column, this_column) -%}
    {{ column }} >= {{ kafka_elt.minus_minutes(
        "(select coalesce(max(" ~ this_column ~ "), '-infinity'::timestamptz) from " ~ this ~ ")",
        var('incremental_lookback_minutes')
    ) }}
{%- endmacro %}

{#- max() of an empty ClickHouse table is the type's zero (1970-01-01), not NULL. -#}
{% macro clickhouse__incremental_watermark(column, this_column) -%}
    {{ column }} >= {{ kafka_elt.minus_minutes(
        "(select max(" ~ this_column ~ ") from " ~ this ~ ")",
        var('incremental_lookback_minutes')
    ) }}
{%- endmacro %}


{#- True for rows of `outer_alias` whose key is not in `relation` (restricted by
    `where`): an anti-join. PostgreSQL plans NOT EXISTS as a hash or index anti-join
    (NOT IN with a large subquery would fall back to a per-row scan once the set
    exceeds work_mem); ClickHouse builds a set for NOT IN and has no general correlated
    subqueries. -#}
{% macro not_in_relation(outer_alias, key_columns, relation, where) -%}
    {{ return(adapter.dispatch('not_in_relation', 'kafka_elt')(outer_alias, key_columns, relation, where)) }}
{%- endmacro %}

{% macro postgres__not_in_relation(outer_alias, key_columns, relation, where) -%}
    not exists (
        select 1 from {{ relation }} as existing
        where
            {{ where }}
            {%- for column in key_columns %}
            and existing.{{ column }} = {{ outer_alias }}.{{ column }}
            {%- endfor %}
    )
{%- endmacro %}

{% macro clickhouse__not_in_relation(outer_alias, key_columns, relation, where) -%}
    ({{ key_columns | join(', ') }}) not in (
        select {{ key_columns | join(', ') }} from {{ relation }}
        where {{ where }}
    )
{%- endmacro %}


{#- Physical design that only one engine understands. -#}

{#- The upserting incremental strategy: one MERGE statement on PostgreSQL (readers see
    either the old or the new row, never none); on ClickHouse a lightweight DELETE of the
    keys being written followed by an INSERT (delete+insert; mutations run with
    lightweight_deletes_sync, so when dbt returns a plain SELECT sees one row per key). -#}
{% macro upsert_strategy() -%}
    {{ return(adapter.dispatch('upsert_strategy', 'kafka_elt')()) }}
{%- endmacro %}

{% macro postgres__upsert_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

{% macro clickhouse__upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}


{#- PostgreSQL indexes (dbt-postgres `indexes` config). ClickHouse reads the same config
    key as data-skipping indexes, so it gets none; its sorting key plays that role. -#}
{% macro postgres_indexes(indexes) -%}
    {{ return(adapter.dispatch('postgres_indexes', 'kafka_elt')(indexes)) }}
{%- endmacro %}

{% macro default__postgres_indexes(indexes) -%}
    {{ return([]) }}
{%- endmacro %}

{% macro postgres__postgres_indexes(indexes) -%}
    {{ return(indexes) }}
{%- endmacro %}
