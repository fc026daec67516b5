{#-
    dbt's `where` test config, plus one placeholder: __recently_ingested__ becomes
    "ingested_at within the last var('staging_test_window_hours') hours" in the target's
    dialect. (The documented way to give `where` dynamic values: override
    get_where_subquery.)
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

{% macro postgres__recently_ingested(column) -%}
    {{ column }} >= now() - interval '{{ var("staging_test_window_hours") | int }} hours'
{%- endmacro %}

{% macro clickhouse__recently_ingested(column) -%}
    {{ column }} >= now64(6, 'UTC') - toIntervalHour({{ var("staging_test_window_hours") | int }})
{%- endmacro %}
