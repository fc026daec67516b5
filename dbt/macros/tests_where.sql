{#-
    dbt's `where` test config, plus one placeholder: __recently_ingested__ becomes
    "ingested_at since DBT_STAGING_TESTS_SINCE" when that environment variable is set (the Airflow
    build sets it to its previous successful build's start, less a minute: each build
    tests the rows that arrived since the last one), else "within
    the last var('staging_test_window_hours') hours", in the target's dialect. (The
    documented way to give `where` dynamic values: override get_where_subquery.)
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__recently_ingested__' in where -%}
            {%- set where = where | replace('__recently_ingested__', kafka_elt.recently_ingested('ingested_at')) -%}
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
