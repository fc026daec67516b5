{#- Fails for every row where "<column> <expression>" is not true (NULLs are skipped:
    pair with not_null where a value is required). -#}
{% test expression_is_true_on_column(model, column_name, expression) %}

with

checked as (

    select * from {{ model }}
    where {{ column_name }} is not null

),

violations as (

    select * from checked
    where not coalesce({{ column_name }} {{ expression }}, false)

)

select * from violations

{% endtest %}
