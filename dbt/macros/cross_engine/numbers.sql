{#-
    Money and volume columns are fixed-point decimals with 10 decimal places in both
    engines (numeric(38, 10) / Decimal(38, 10)), like the old sink's numeric columns,
    so sums and comparisons are exact and identical on both engines.
-#}

{% macro decimal_type(scale=10) -%}
    {{ return(adapter.dispatch('decimal_type', 'kafka_elt')(scale)) }}
{%- endmacro %}

{% macro postgres__decimal_type(scale) -%}
    numeric(38, {{ scale }})
{%- endmacro %}

{% macro clickhouse__decimal_type(scale) -%}
    Decimal(38, {{ scale }})
{%- endmacro %}


{#- A float converted to decimal through its shortest round-trip decimal text (the
    digits the producer most likely wrote), truncated to the scale. Both engines print
    floats that way (PostgreSQL >= 12 with the default extra_float_digits = 1), so the
    decimals agree digit for digit; a direct float-to-decimal cast would not: PostgreSQL
    keeps 15 significant digits, ClickHouse the exact binary expansion. -#}
{% macro double_to_decimal(double_expr, scale=10) -%}
    {{ return(adapter.dispatch('double_to_decimal', 'kafka_elt')(double_expr, scale)) }}
{%- endmacro %}

{% macro postgres__double_to_decimal(double_expr, scale) -%}
    cast(trunc(cast(cast({{ double_expr }} as text) as numeric), {{ scale }}) as numeric(38, {{ scale }}))
{%- endmacro %}

{% macro clickhouse__double_to_decimal(double_expr, scale) -%}
    toDecimal128OrNull(toString({{ double_expr }}), {{ scale }})
{%- endmacro %}


{#- numerator / denominator truncated (toward zero) to `scale` decimals, exactly: the
    same digits on both engines. ClickHouse's decimal division already truncates;
    PostgreSQL's rounds its last digit, so it uses exact integer division instead. -#}
{% macro decimal_divide(numerator, denominator, scale) -%}
    {{ return(adapter.dispatch('decimal_divide', 'kafka_elt')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro postgres__decimal_divide(numerator, denominator, scale) -%}
    case
        when ({{ denominator }}) <> 0
            then cast(
                div(({{ numerator }}) * {{ 10 ** scale }}, {{ denominator }}) / {{ 10 ** scale }}
                as numeric(38, {{ scale }})
            )
    end
{%- endmacro %}

{% macro clickhouse__decimal_divide(numerator, denominator, scale) -%}
    if(
        ({{ denominator }}) != 0,
        toDecimal128(({{ numerator }}) / ({{ denominator }}), {{ scale }}),
        null
    )
{%- endmacro %}


{#- Sorting keys of ClickHouse tables cannot be Nullable; a NOT NULL column on
    PostgreSQL needs nothing. Use only on expressions already filtered for NULL. -#}
{% macro assume_not_null(expr) -%}
    {{ return(adapter.dispatch('assume_not_null', 'kafka_elt')(expr)) }}
{%- endmacro %}

{% macro default__assume_not_null(expr) -%}
    {{ expr }}
{%- endmacro %}

{% macro clickhouse__assume_not_null(expr) -%}
    assumeNotNull({{ expr }})
{%- endmacro %}


{#- Text ordering that does not depend on the database's collation (PostgreSQL sorts
    by the locale unless told otherwise; ClickHouse compares bytes). Used wherever an
    order decides which rows a mart keeps. -#}
{% macro bytewise(text_expr) -%}
    {{ return(adapter.dispatch('bytewise', 'kafka_elt')(text_expr)) }}
{%- endmacro %}

{% macro default__bytewise(text_expr) -%}
    {{ text_expr }}
{%- endmacro %}

{% macro postgres__bytewise(text_expr) -%}
    ({{ text_expr }}) collate "C"
{%- endmacro %}
