{#- Price bars must be internally consistent:
    low <= least(open, close) <= greatest(open, close) <= high.
    Fails for every row that is not (NULL prices included). -#}
{% test ohlc_is_consistent(model, open_column, high_column, low_column, close_column) %}

with

bars as (

    select * from {{ model }}

),

violations as (

    select * from bars
    where not coalesce(
        {{ low_column }} <= least({{ open_column }}, {{ close_column }})
        and least({{ open_column }}, {{ close_column }}) <= greatest({{ open_column }}, {{ close_column }})
        and greatest({{ open_column }}, {{ close_column }}) <= {{ high_column }},
        false
    )

)

select * from violations

{% endtest %}
