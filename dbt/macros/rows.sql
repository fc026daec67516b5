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
    column (a model of one raw table may leave it out); `topics_from`, for one that
    does not: the raw table it reads (see raw_topics). -#}
{% macro after_stored_offsets(alias, has_topic=true, topics_from=none) -%}
    {%- if not execute or not is_incremental() or model.resource_type == 'unit_test' -%}
        {{ return(alias ~ '.kafka_offset >= 0') }}
    {%- endif -%}
    {{ return(kafka_elt.offsets_after(alias, this, has_topic, topics_from)) }}
{%- endmacro %}


{#- The same filter against any relation holding (kafka_topic,) kafka_partition and
    kafka_offset: the offsets after the newest one `stored` holds per partition. A
    relation that does not exist (none) holds nothing: every offset. `alias` qualifies
    the columns (none: unqualified). Also the window of
    the staging tests (macros/tests_where.sql): the messages the marts have not folded
    in yet. -#}
{% macro offsets_after(alias, stored, has_topic=true, topics_from=none) -%}
    {%- set column = (alias ~ '.') if alias else '' -%}
    {%- set every_offset = column ~ 'kafka_offset >= 0' -%}
    {%- if not execute or stored is none -%}
        {{ return(every_offset) }}
    {%- endif -%}
    {%- set stored = run_query(kafka_elt.stored_offsets_query(stored, has_topic)).rows -%}
    {%- if stored | length == 0 -%}
        {{ return(every_offset) }}
    {%- endif -%}
    {%- set topics = [] -%}
    {%- if has_topic -%}
        {%- for row in stored if row[0] not in topics -%}
            {%- do topics.append(row[0]) -%}
        {%- endfor -%}
    {%- elif topics_from is not none -%}
        {#- One watermark per partition, whatever the topic; the clauses still name the
            raw table's topics where that lets the engine find the rows by the raw
            table's key, which starts with kafka_topic (raw_topics). -#}
        {%- set topics = kafka_elt.raw_topics(topics_from) -%}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for name in topics -%}
        {%- do quoted.append("'" ~ (name | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- set clauses = [] -%}
    {%- for name in topics -%}
        {%- set in_topic = column ~ 'kafka_topic = ' ~ quoted[loop.index0] ~ ' and ' -%}
        {%- set rows = [] -%}
        {%- for row in stored if not has_topic or row[0] == name -%}
            {%- do rows.append(row) -%}
        {%- endfor -%}
        {%- do clauses.extend(kafka_elt.partition_clauses(rows, column, in_topic)) -%}
    {%- endfor -%}
    {%- if topics | length == 0 -%}
        {%- do clauses.extend(kafka_elt.partition_clauses(stored, column, '')) -%}
    {%- else -%}
        {#- topics not named above: before, between and after them -#}
        {%- set others = ['(' ~ column ~ 'kafka_topic < ' ~ quoted[0] ~ ')'] -%}
        {%- for i in range(1, quoted | length) -%}
            {%- do others.append('(' ~ column ~ 'kafka_topic > ' ~ quoted[i - 1] ~ ' and ' ~ column ~ 'kafka_topic < ' ~ quoted[i] ~ ')') -%}
        {%- endfor -%}
        {%- do others.append('(' ~ column ~ 'kafka_topic > ' ~ quoted[-1] ~ ')') -%}
        {%- if has_topic -%}
            {#- a topic the table holds nothing of: every offset -#}
            {%- do clauses.extend(others) -%}
        {%- else -%}
            {%- do clauses.append('((' ~ others | join(' or ') ~ ') and ('
                ~ kafka_elt.partition_clauses(stored, column, '') | join(' or ') ~ '))') -%}
        {%- endif -%}
    {%- endif -%}
    ({{ clauses | join('\n        or ') }})
{%- endmacro %}


{#- The clauses of offsets_after for one topic (`in_topic`, or '' for any): per stored
    (_, partition, newest offset) row, in partition order, the offsets after it; every
    offset of the partitions before, between and after them. -#}
{% macro partition_clauses(rows, column, in_topic) -%}
    {%- set clauses = [] -%}
    {%- set last = namespace(partition=-1) -%}
    {%- for row in rows -%}
        {%- set partition = row[1] | int -%}
        {%- if partition > last.partition + 1 -%}
            {%- do clauses.append('(' ~ in_topic ~ column ~ 'kafka_partition between ' ~ (last.partition + 1) ~ ' and ' ~ (partition - 1) ~ ')') -%}
        {%- endif -%}
        {%- do clauses.append('(' ~ in_topic ~ column ~ 'kafka_partition = ' ~ partition ~ ' and ' ~ column ~ 'kafka_offset > ' ~ (row[2] | int) ~ ')') -%}
        {%- set last.partition = partition -%}
    {%- endfor -%}
    {%- do clauses.append('(' ~ in_topic ~ column ~ 'kafka_partition > ' ~ last.partition ~ ')') -%}
    {{ return(clauses) }}
{%- endmacro %}


{#- The raw table (source) a staging model reads, from the graph: for a model downstream
    of it to name the raw table's topics (offsets_after) without reading the source
    itself (models past staging read refs only). none while parsing and in unit tests. -#}
{% macro raw_table_of(staging_model) -%}
    {%- set in_graph = execute and model.resource_type != 'unit_test' -%}
    {%- set staging = graph.nodes.get('model.' ~ project_name ~ '.' ~ staging_model) if in_graph else none -%}
    {%- if staging -%}
        {%- for node_id in staging.get('depends_on', {}).get('nodes', []) if node_id.startswith('source.') -%}
            {%- set raw = graph.sources[node_id] -%}
            {{ return(api.Relation.create(database=raw.database, schema=raw.schema, identifier=raw.identifier)) }}
        {%- endfor -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- The topics a raw table holds, for offsets_after to name: on PostgreSQL, whose raw
    tables' primary key starts with kafka_topic, so that a filter on partitions and
    offsets without a topic reads the whole table (1.5 s over 5M candle messages, in
    each staging test). ClickHouse finds the granules from the partition and offset
    alone (the topic is constant within them): none. -#}
{% macro raw_topics(relation) -%}
    {{ return(adapter.dispatch('raw_topics', 'kafka_elt')(relation)) }}
{%- endmacro %}

{% macro default__raw_topics(relation) -%}
    {{ return([]) }}
{%- endmacro %}

{#- A walk of the primary key: one probe per topic. -#}
{% macro postgres__raw_topics(relation) -%}
    {%- set found = run_query(
        "with recursive topics as ((select kafka_topic from " ~ relation ~ " order by kafka_topic limit 1)"
        ~ " union all select (select later.kafka_topic from " ~ relation ~ " as later"
        ~ " where later.kafka_topic > topics.kafka_topic order by later.kafka_topic limit 1)"
        ~ " from topics where topics.kafka_topic is not null)"
        ~ " select kafka_topic from topics where kafka_topic is not null order by 1"
    ) -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}


{#- (topic, partition, newest offset) per partition `relation` holds, in that order; the
    topic is '' when `has_topic` is false. -#}
{% macro stored_offsets_query(relation, has_topic) -%}
    {{ return(adapter.dispatch('stored_offsets_query', 'kafka_elt')(relation, has_topic)) }}
{%- endmacro %}

{% macro default__stored_offsets_query(relation, has_topic) -%}
    select {{ 'kafka_topic' if has_topic else "''" }}, kafka_partition, max(kafka_offset)
    from {{ relation }}
    group by 1, 2
    order by 1, 2
{%- endmacro %}

{#- PostgreSQL has no skip scan: the aggregate above reads every row (1.3 s over 10M page
    visits, asked once by the model and once by each of its staging tests). This walks
    the index on ([kafka_topic,] kafka_partition, kafka_offset) instead (user_footprint's
    unique key; an index of its own on int_market_candle_partition_heads): one probe
    per partition for the next partition and one for its newest offset. -#}
{% macro postgres__stored_offsets_query(relation, has_topic) -%}
    {%- set key = ['kafka_topic', 'kafka_partition'] if has_topic else ['kafka_partition'] -%}
    {%- set leading = key + ['kafka_offset'] -%}
    {#- A table built before it had that index (dbt adds indexes when it creates the
        table) keeps the aggregate until a --full-refresh. -#}
    {%- set indexed = run_query(
        "select exists (select 1 from pg_index as i where i.indrelid = to_regclass('" ~ relation ~ "')"
        ~ " and i.indisvalid and i.indpred is null and i.indnatts >= " ~ (leading | length)
        ~ " and (select array_agg(a.attname::text order by k.n) from unnest(i.indkey[0:" ~ (leading | length - 1)
        ~ "]) with ordinality as k (attnum, n) join pg_attribute as a on a.attrelid = i.indrelid"
        ~ " and a.attnum = k.attnum) = array['" ~ (leading | join("', '")) ~ "'])"
    ).columns[0].values()[0] -%}
    {%- if not indexed -%}
        {{ return(kafka_elt.default__stored_offsets_query(relation, has_topic)) }}
    {%- endif -%}
    with recursive partitions as (
        (
            select {{ key | join(', ') }} from {{ relation }}
            order by {{ key | join(', ') }}
            limit 1
        )
        union all
        select {% for k in key %}next_partition.{{ k }}{{ ', ' if not loop.last }}{% endfor %}
        from partitions as previous
        cross join lateral (
            select {% for k in key %}later.{{ k }}{{ ', ' if not loop.last }}{% endfor %}
            from {{ relation }} as later
            where ({% for k in key %}later.{{ k }}{{ ', ' if not loop.last }}{% endfor %})
                > ({% for k in key %}previous.{{ k }}{{ ', ' if not loop.last }}{% endfor %})
            order by {% for k in key %}later.{{ k }}{{ ', ' if not loop.last }}{% endfor %}
            limit 1
        ) as next_partition
    )
    select
        {{ 'partitions.kafka_topic' if has_topic else "''" }},
        partitions.kafka_partition,
        (
            select newest.kafka_offset from {{ relation }} as newest
            where {% for k in key %}newest.{{ k }} = partitions.{{ k }}{{ ' and ' if not loop.last }}{% endfor %}
            order by newest.kafka_offset desc
            limit 1
        )
    from partitions
    order by 1, 2
{%- endmacro %}

{#- ClickHouse has no index to walk: its answer to stored_offsets_query is an aggregate
    projection kept with every part, read instead of the rows (0.04 s instead of 0.45 s
    over 10M page visits on an idle machine, 5.5 s under a build's load; asked once by
    the model and once by each of its six staging tests). For a table whose runs only
    append (insert_new_keys_strategy): ClickHouse does not read projections while a
    table holds patch parts (the upsert's DELETE). A ReplacingMergeTree must say what
    its merges do to a projection: rebuild it. ClickHouse-only config keys, like
    `engine`: dbt-postgres does not read them. -#}
{% macro stored_offsets_projections() -%}
    {{ return([{
        'name': 'stored_offsets',
        'query': 'select kafka_topic, kafka_partition, max(kafka_offset) group by kafka_topic, kafka_partition',
    }]) }}
{%- endmacro %}

{% macro stored_offsets_table_settings() -%}
    {{ return({'deduplicate_merge_projection_mode': 'rebuild'}) }}
{%- endmacro %}


{#- Rows whose `column` is after the newest `this_column` in {{ this }}: for a model
    that reads what an upstream model wrote in later runs (run_started()). No lookback:
    dbt runs one build at a time per target. An empty table selects everything. -#}
{% macro newer_than_stored(column, this_column) -%}
    {{ return(adapter.dispatch('newer_than_stored', 'kafka_elt')(column, this_column)) }}
{%- endmacro %}

{#- PostgreSQL gets the newest value as a literal, read when the model compiles (one
    probe of the index on `this_column`): the planner then estimates the rows after it
    from the column's statistics. Behind a subquery it assumed a third of the table and
    read every row of it (market_candle: 4.25M heads in two full index scans to find
    the 50,000 written since its last run, 7.4 s; page_views_hourly: 10M page visits
    for 3 changed hours, 6.9 s). -#}
{% macro postgres__newer_than_stored(column, this_column) -%}
    {%- if execute and model.resource_type != 'unit_test' -%}
        {%- set newest = run_query(
            "select coalesce(max(" ~ this_column ~ "), '-infinity'::timestamptz)::text from " ~ this
        ).columns[0].values()[0] -%}
        {{ column }} > timestamptz '{{ newest }}'
    {%- else -%}
        {{ column }} > (select coalesce(max({{ this_column }}), '-infinity'::timestamptz) from {{ this }})
    {%- endif -%}
{%- endmacro %}

{#- A post-hook of the models that later models read with newer_than_stored: fresh
    statistics of built_at on PostgreSQL, so that the planner sees the rows this run
    wrote (built_at holds one value per run: statistics older than the run estimate
    none after the newest one they know, and candle_ohlcv_hourly then walked
    market_candle's index once per changed hour, 10.8 s instead of 1.3 s). A sample of
    3,000 rows (statistics target 10) tells the newest runs apart: 30 ms on 4.2M rows,
    where the default 30,000 took 0.26-0.4 s idle and 1-2 s in a loaded build. Only
    that column: autovacuum keeps the others' statistics at the server's target.
    ClickHouse needs none. -#}
{% macro refresh_statistics() -%}
    {{ return(adapter.dispatch('refresh_statistics', 'kafka_elt')()) }}
{%- endmacro %}

{% macro default__refresh_statistics() -%}
    {{ return('') }}
{%- endmacro %}

{% macro postgres__refresh_statistics() -%}
    {{ return('set local default_statistics_target = 10; analyze ' ~ this ~ ' (built_at)') }}
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

{#- Table settings for a model upserted with upsert_strategy. On ClickHouse, block
    numbers and offsets stored with every row let the upsert's DELETE run as a lightweight
    update (profiles.yml: lightweight_delete_mode): it writes one small patch part that
    reads apply until a merge folds it in. Without them the DELETE is a mutation of every
    part of the table, run two parts at a time by the server's background pool: 6.8 s of
    the 8.6 s market_candle spent upserting 50,000 candles over 4.2M, whether or not a
    part held one of the keys. A table built before this keeps the mutation until
    --full-refresh. A ClickHouse-only config key: dbt-postgres does not read `settings`. -#}
{% macro upsert_table_settings() -%}
    {{ return({'enable_block_number_column': 1, 'enable_block_offset_column': 1}) }}
{%- endmacro %}

{#- For a model whose every run writes only keys it does not hold yet (it reads the
    offsets after the newest one it stores: after_stored_offsets): on ClickHouse a plain
    INSERT. The lightweight DELETE of delete+insert would find nothing to delete, and
    still scanned and rewrote the row mask of every part of the table (6.9 s of the
    10.2 s user_footprint spent folding in 50,000 page visits over 10M). PostgreSQL keeps
    its MERGE, a no-op update were a key ever written twice, found by the unique index. -#}
{% macro insert_new_keys_strategy() -%}
    {{ return(adapter.dispatch('insert_new_keys_strategy', 'kafka_elt')()) }}
{%- endmacro %}

{% macro default__insert_new_keys_strategy() -%}
    {{ return(kafka_elt.upsert_strategy()) }}
{%- endmacro %}

{% macro clickhouse__insert_new_keys_strategy() -%}
    {{ return('append') }}
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
