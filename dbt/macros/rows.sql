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
    between the databases by design. A relation that does not exist (yet) gives
    (mart_name, 0, 0). -#}
{% macro mart_checksum(mart_name, relation) -%}
    {%- if execute and load_relation(relation) is none %}
    -- {{ relation }} does not exist yet: empty
    select
        cast('{{ mart_name }}' as {{ dbt.type_string() }}) as mart_name,
        cast(0 as {{ dbt.type_bigint() }}) as row_count,
        {{ kafka_elt.sum_mod_2_64('0') }} as checksum
    from (select 1 as one) as no_rows
    where 1 = 0
    {%- else %}
    select
        cast('{{ mart_name }}' as {{ dbt.type_string() }}) as mart_name,
        cast(count(*) as {{ dbt.type_bigint() }}) as row_count,
        {{ kafka_elt.sum_mod_2_64('row_checksum') }} as checksum
    from {{ relation }}
    {%- endif %}
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


{#- Incremental filter on raw messages by their Kafka coordinates: only the offsets
    after the newest one {{ this }} holds for their partition, and every offset of a
    partition (or topic) it holds nothing of. Exact, with no lookback: one drain at a
    time loads a partition, batch after batch in offset order, each committed (and in
    ClickHouse inserted) before the next is written, so no offset below the newest one
    stored can still arrive. A window on ingested_at needs a lookback for batches stamped
    before a run read its watermark but committed after; after a bulk load that
    lookback re-read the whole bulk on every run (bench/volume.py: 10M page visits
    re-read to fold in 50,000). The watermarks are read when the model runs and written
    into the SQL as offset ranges, which both engines serve from the raw tables' primary
    key (topic, partition, offset). `has_topic`: whether {{ this }} has a kafka_topic
    column (a model of one raw table may leave it out). -#}
{% macro after_stored_offsets(alias, has_topic=true) -%}
    {%- set every_offset = alias ~ '.kafka_offset >= 0' -%}
    {%- if not execute or not is_incremental() or model.resource_type == 'unit_test' -%}
        {{ return(every_offset) }}
    {%- endif -%}
    {%- set topic = 'kafka_topic' if has_topic else "''" -%}
    {%- set stored = run_query(
        'select ' ~ topic ~ ', kafka_partition, max(kafka_offset) from ' ~ this ~ ' group by 1, 2 order by 1, 2'
    ).rows -%}
    {%- if stored | length == 0 -%}
        {{ return(every_offset) }}
    {%- endif -%}
    {%- set column = alias ~ '.' -%}
    {%- set clauses = [] -%}
    {%- set topics = [] -%}
    {%- for row in stored -%}
        {%- if row[0] not in topics -%}
            {%- do topics.append(row[0]) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in topics -%}
        {%- set in_topic = (column ~ "kafka_topic = '" ~ (name | replace("'", "''")) ~ "' and ") if has_topic else '' -%}
        {%- set last = namespace(partition=-1) -%}
        {%- for row in stored if row[0] == name -%}
            {%- set partition = row[1] | int -%}
            {%- if partition > last.partition + 1 -%}
                {%- do clauses.append('(' ~ in_topic ~ column ~ 'kafka_partition between ' ~ (last.partition + 1) ~ ' and ' ~ (partition - 1) ~ ')') -%}
            {%- endif -%}
            {%- do clauses.append('(' ~ in_topic ~ column ~ 'kafka_partition = ' ~ partition ~ ' and ' ~ column ~ 'kafka_offset > ' ~ (row[2] | int) ~ ')') -%}
            {%- set last.partition = partition -%}
        {%- endfor -%}
        {%- do clauses.append('(' ~ in_topic ~ column ~ 'kafka_partition > ' ~ last.partition ~ ')') -%}
    {%- endfor -%}
    {%- if has_topic -%}
        {#- topics it holds nothing of: before, between and after those it does -#}
        {%- set quoted = [] -%}
        {%- for name in topics -%}
            {%- do quoted.append("'" ~ (name | replace("'", "''")) ~ "'") -%}
        {%- endfor -%}
        {%- do clauses.append('(' ~ column ~ 'kafka_topic < ' ~ quoted[0] ~ ')') -%}
        {%- for i in range(1, quoted | length) -%}
            {%- do clauses.append('(' ~ column ~ 'kafka_topic > ' ~ quoted[i - 1] ~ ' and ' ~ column ~ 'kafka_topic < ' ~ quoted[i] ~ ')') -%}
        {%- endfor -%}
        {%- do clauses.append('(' ~ column ~ 'kafka_topic > ' ~ quoted[-1] ~ ')') -%}
    {%- endif -%}
    ({{ clauses | join('\n        or ') }})
{%- endmacro %}


{#- Rows whose `column` is after the newest `this_column` in {{ this }}: for a model
    that reads what an upstream model wrote in later runs (run_started()). No lookback:
    dbt runs one build at a time per target. An empty table selects everything. -#}
{% macro newer_than_stored(column, this_column) -%}
    {{ return(adapter.dispatch('newer_than_stored', 'kafka_elt')(column, this_column)) }}
{%- endmacro %}

{% macro postgres__newer_than_stored(column, this_column) -%}
    {{ column }} > (select coalesce(max({{ this_column }}), '-infinity'::timestamptz) from {{ this }})
{%- endmacro %}

{#- max() of an empty ClickHouse table is the type's zero (1970-01-01), not NULL. -#}
{% macro clickhouse__newer_than_stored(column, this_column) -%}
    {{ column }} > (select max({{ this_column }}) from {{ this }})
{%- endmacro %}


{#- When this dbt invocation started (UTC), as a timestamp: what a model stamps on the
    rows it writes, so that the next model can take exactly the rows written since it
    last ran (dbt runs one build at a time per target). -#}
{% macro run_started() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00:00' as {{ kafka_elt.timestamp_type() }})
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
