{#- Price bars must be internally consistent:
    low <= least(open, close) <= greatest(open, close) <= high.
    A bar without prices (all four NULL) is not checked: a candle may omit them. Fails
    for every other row that is not consistent, a bar with only some prices included.
    Ingestion dead-letters such candles, so this test stays an error: it can only trip
    on a modelling bug, never on a message that passed validation. -#}
{% test ohlc_is_consistent(model, open_column, high_column, low_column, close_column) %}

with

bars as (

    select * from {{ model }}

),

violations as (

    select * from bars
    where not (
        {{ open_column }} is null and {{ high_column }} is null
        and {{ low_column }} is null and {{ close_column }} is null
    )
    and not coalesce(
        {{ low_column }} <= least({{ open_column }}, {{ close_column }})
        and least({{ open_column }}, {{ close_column }}) <= greatest({{ open_column }}, {{ close_column }})
        and greatest({{ open_column }}, {{ close_column }}) <= {{ high_column }},
        false
    )

)

select * from violations

{% endtest %}
