{#- The engine-specific bodies of the generic test unique_combination_of_columns
    (tests/generic/unique_combination_of_columns.sql). -#}

{#- Two CTEs: `grain` (each combination and its row count, over the rows where `only_if`
    holds) and `violations` (combinations seen twice or holding a NULL). -#}
{% macro grain_violations(model, combination_of_columns, only_if=none) -%}
grain as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count

    from {{ model }}
    {%- if only_if %}
    where {{ only_if }}
    {%- endif %}
    group by {{ combination_of_columns | join(', ') }}

),

violations as (

    select * from grain
    where
        row_count > 1
        {%- for column in combination_of_columns %}
        or {{ column }} is null
        {%- endfor %}

)
{%- endmacro %}

{% macro default__test_unique_combination_of_columns(model, combination_of_columns) %}

with

{{ kafka_elt.grain_violations(model, combination_of_columns) }}

select * from violations

{% endmacro %}

{% macro postgres__test_unique_combination_of_columns(model, combination_of_columns) %}
{#- Only a plain relation has indexes: a test with a `where` reads a subquery. -#}
{%- if model is string or model.identifier is none -%}
    {{ return(kafka_elt.default__test_unique_combination_of_columns(model, combination_of_columns)) }}
{%- endif -%}
{%- set columns = [] -%}
{%- for column in combination_of_columns -%}
    {%- do columns.append(column | replace('"', '')) -%}
{%- endfor %}

with

enforced as (

    -- a valid, non-partial unique index on exactly these columns
    select count(*) > 0 as by_index
    from pg_index as i
    where
        i.indrelid = to_regclass('{{ model }}')
        and i.indisunique
        and i.indisvalid
        and i.indpred is null
        and i.indexprs is null
        and (
            select array_agg(a.attname::text order by a.attname::text)
            from pg_attribute as a
            where a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        ) = array[{% for column in columns | sort %}'{{ column }}'{{ ', ' if not loop.last }}{% endfor %}]
        and i.indnatts = {{ columns | length }}

),

{{ kafka_elt.grain_violations(model, combination_of_columns, 'not (select enforced.by_index from enforced)') }},

nulls as (

    select
        {{ combination_of_columns | join(', ') }},
        1 as row_count

    from {{ model }}
    where
        (select enforced.by_index from enforced)
        and (
            {%- for column in combination_of_columns %}
            {{ 'or ' if not loop.first }}{{ column }} is null
            {%- endfor %}
        )

),

all_violations as (

    select * from violations

    union all

    select * from nulls

)

select * from all_violations

{% endmacro %}
