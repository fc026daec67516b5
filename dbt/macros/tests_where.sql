{#-
    dbt's `where` test config, plus placeholders that scope a test to what a build adds,
    so that an incremental build does not re-test what earlier builds tested (the
    documented way to give `where` dynamic values: override get_where_subquery):

    __new_messages__ (staging tests): the messages the marts have not folded in yet.
        A staging model whose meta names `folded_into` (the incremental model that
        reads it by Kafka offset, and `folded_has_topic: false` when that model has no
        kafka_topic column) is tested on the offsets after the newest one that model
        holds per partition (rows.sql, offsets_after): exact, no lookback, and a build
        whose tests failed leaves the offsets where they were, so the next build tests
        those messages again. Other staging models: __recently_ingested__.
    __recently_ingested__: "ingested_at since DBT_STAGING_TESTS_SINCE" when that
        environment variable is set (the Airflow build sets it to its previous
        successful build's start, less a minute), else "within the last
        var('staging_test_window_hours') hours", in the target's dialect.
    __built_this_run__ (tests of the marts): every row when
        DBT_MART_TESTS is "all" (the default: dbt by hand tests the marts in full);
        when it is "new_rows" (dbt_marts sets it when the previous builds of the same
        sources passed, bench/volume.py on its incremental pass), the rows this
        invocation wrote (built_at = run_started_at). A grain test
        (unique_combination_of_columns) then reads every row that shares its key with
        such a row, so a new row that duplicates an old one still fails it. A table
        model (rebuilt in full by every run) is always tested in full.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__new_messages__' in where -%}
            {%- set where = where | replace('__new_messages__', kafka_elt.new_messages()) -%}
        {%- endif -%}
        {%- if '__recently_ingested__' in where -%}
            {%- set where = where | replace('__recently_ingested__', kafka_elt.recently_ingested('ingested_at')) -%}
        {%- endif -%}
        {%- if '__built_this_run__' in where -%}
            {%- set where = where | replace('__built_this_run__', kafka_elt.built_this_run(relation)) -%}
        {%- endif -%}
        {#- Every row (a first build, DBT_MART_TESTS=all, a table model): the relation
            itself, so that a grain test on PostgreSQL can see the unique index that holds
            its key (unique_combination.sql) instead of grouping a subquery's rows. -#}
        {%- if where | trim == kafka_elt.all_rows() -%}
            {%- do return(relation) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{% macro recently_ingested(column) -%}
    {{ return(adapter.dispatch('recently_ingested', 'kafka_elt')(column)) }}
{%- endmacro %}

{% macro tests_since() -%}
    {#- An ISO 8601 instant, or none; anything else is refused rather than pasted into SQL. -#}
    {#- From the environment (the Airflow build sets it; changing it keeps dbt's partial
        parse), or a --vars value when run by hand. -#}
    {%- set since = env_var("DBT_STAGING_TESTS_SINCE", "") or var("staging_tests_since", none) -%}
    {%- if since and not modules.re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+([+-][0-9:]+|Z)?", since) -%}
        {{ exceptions.raise_compiler_error("staging_tests_since must be an ISO 8601 instant, got " ~ since) }}
    {%- endif -%}
    {{ return(since) }}
{%- endmacro %}

{% macro postgres__recently_ingested(column) -%}
    {%- set since = kafka_elt.tests_since() -%}
    {%- if since -%}
        {{ column }} >= timestamptz '{{ since }}'
    {%- else -%}
        {{ column }} >= now() - interval '{{ var("staging_test_window_hours") | int }} hours'
    {%- endif -%}
{%- endmacro %}

{% macro clickhouse__recently_ingested(column) -%}
    {%- set since = kafka_elt.tests_since() -%}
    {%- if since -%}
        {{ column }} >= parseDateTime64BestEffort('{{ since }}', 6, 'UTC')
    {%- else -%}
        {{ column }} >= now64(6, 'UTC') - toIntervalHour({{ var("staging_test_window_hours") | int }})
    {%- endif -%}
{%- endmacro %}


{#- The node a generic test is attached to (its model), from the graph; none outside
    execution or for a singular test. -#}
{% macro tested_node() -%}
    {%- if execute and model.attached_node -%}
        {{ return(graph.nodes.get(model.attached_node)) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{% macro new_messages() -%}
    {%- set tested = kafka_elt.tested_node() -%}
    {%- set folded_into = tested.config.meta.get('folded_into') if tested else none -%}
    {%- if not folded_into -%}
        {{ return(kafka_elt.recently_ingested('ingested_at')) }}
    {%- endif -%}
    {%- set folding = graph.nodes.get('model.' ~ project_name ~ '.' ~ folded_into) -%}
    {%- if folding is none -%}
        {{ exceptions.raise_compiler_error(
            tested.name ~ ": meta folded_into names " ~ folded_into ~ ", which is not a model of this project"
        ) }}
    {%- endif -%}
    {%- set stored = adapter.get_relation(database=folding.database, schema=folding.schema, identifier=folding.alias) -%}
    {{ return(kafka_elt.offsets_after(
        none, stored, tested.config.meta.get('folded_has_topic', true), kafka_elt.raw_table_of(tested.name)
    )) }}
{%- endmacro %}

{% macro mart_tests() -%}
    {%- set scope = env_var("DBT_MART_TESTS", "") or var("mart_tests", "all") -%}
    {%- if scope not in ("all", "new_rows") -%}
        {{ exceptions.raise_compiler_error('DBT_MART_TESTS (var mart_tests) must be "all" or "new_rows", got ' ~ scope) }}
    {%- endif -%}
    {{ return(scope) }}
{%- endmacro %}

{#- What built_this_run answers for "every row". -#}
{% macro all_rows() -%}
    {{ return("1 = 1") }}
{%- endmacro %}

{% macro built_this_run(relation) -%}
    {#- a table model is rebuilt in full by every run: tested in full -#}
    {%- set attached = graph.nodes.get(model.attached_node) if model.attached_node else none -%}
    {%- if kafka_elt.mart_tests() == "all" or attached is none or attached.config.materialized != "incremental" -%}
        {{ return(kafka_elt.all_rows()) }}
    {%- endif -%}
    {%- set built = "built_at = " ~ kafka_elt.run_started() -%}
    {%- if model.test_metadata and model.test_metadata.name == "unique_combination_of_columns" -%}
        {%- set key = model.test_metadata.kwargs.combination_of_columns | join(", ") -%}
        {{ return("(" ~ key ~ ") in (select " ~ key ~ " from " ~ relation ~ " where " ~ built ~ ")") }}
    {%- endif -%}
    {{ return(built) }}
{%- endmacro %}
