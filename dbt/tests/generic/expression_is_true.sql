{#- Fails for every row where the SQL expression is not true (NULL counts as not true). -#}
{% test expression_is_true(model, expression) %}

with

checked as (

    select * from {{ model }}

),

violations as (

    select * from checked
    where not coalesce({{ expression }}, false)

)

select * from violations

{% endtest %}
