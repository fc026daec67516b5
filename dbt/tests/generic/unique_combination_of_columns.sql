{#- Fails for every combination of the given columns that occurs more than once, or
    that has a NULL in it: the grain of a model with a composite key.

    On PostgreSQL a valid unique index on exactly these columns already guarantees the
    first half, so the test then only looks for NULLs (a unique index allows several):
    a scan instead of sorting or hashing every row (60-75 s over 10M page visits in
    bench/volume.py). The catalog is asked in the query itself (an InitPlan, which
    PostgreSQL evaluates once and uses to skip the aggregation), so a dropped or invalid
    index makes the test count again. ClickHouse has no unique constraints: it always
    counts. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    {{ return(adapter.dispatch('test_unique_combination_of_columns', 'kafka_elt')(model, combination_of_columns)) }}
{% endtest %}
