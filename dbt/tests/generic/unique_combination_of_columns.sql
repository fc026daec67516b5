{#- Fails for every combination of the given columns that occurs more than once, or
    that has a NULL in it: the grain of a model with a composite key. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grain as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as row_count

    from {{ model }}
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

select * from violations

{% endtest %}
