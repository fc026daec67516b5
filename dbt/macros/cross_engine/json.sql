{#-
    JSON access for the raw Kafka values (text holding one JSON object).

    PostgreSQL parses the text once into jsonb; ClickHouse's JSON* functions read the
    text directly. Every extractor returns NULL when the key is missing or holds another
    JSON type, so both engines treat unexpected input the same way (and the staging
    not_null tests report it) instead of one engine failing and the other inventing 0.
-#}

{#- The body of a CTE: every column of `relation` plus
      is_connect_envelope  whether the value was a Kafka Connect envelope,
      payload              the record itself (jsonb on PostgreSQL, JSON text on ClickHouse).
    PostgreSQL parses each value once: a LATERAL subquery with OFFSET 0 keeps the
    planner from inlining the jsonb cast into every expression that uses it (which would
    re-parse the text dozens of times per row), while filters on the relation's columns
    (the incremental ingested_at window) still reach the table scan. ClickHouse parses
    JSON text fast enough in place. -#}
{% macro select_connect_payload(relation, value_column) -%}
    {{ return(adapter.dispatch('select_connect_payload', 'kafka_elt')(relation, value_column)) }}
{%- endmacro %}

{% macro postgres__select_connect_payload(relation, value_column) -%}
    select
        {{ relation }}.*,
        parsed.is_connect_envelope,
        parsed.payload

    from {{ relation }}
    cross join lateral (
        select
            {{ kafka_elt.is_connect_envelope('message_json.message') }} as is_connect_envelope,
            {{ kafka_elt.connect_payload('message_json.message') }} as payload
        from (
            select cast({{ relation }}.{{ value_column }} as jsonb) as message
            limit all offset 0
        ) as message_json
        limit all offset 0
    ) as parsed
{%- endmacro %}

{% macro clickhouse__select_connect_payload(relation, value_column) -%}
    select
        *,
        {{ kafka_elt.is_connect_envelope(value_column) }} as is_connect_envelope,
        {{ kafka_elt.connect_payload(value_column) }} as payload

    from {{ relation }}
{%- endmacro %}


{#- Kafka Connect's JsonConverter with schemas.enable=true wraps the record as
    {"schema": {...}, "payload": {...}}; without schemas it sends the payload alone. -#}
{% macro is_connect_envelope(json_expr) -%}
    {{ return(adapter.dispatch('is_connect_envelope', 'kafka_elt')(json_expr)) }}
{%- endmacro %}

{% macro postgres__is_connect_envelope(json_expr) -%}
    coalesce(
        jsonb_typeof({{ json_expr }}) = 'object'
        and ({{ json_expr }}) ? 'schema'
        and jsonb_typeof(({{ json_expr }}) -> 'payload') = 'object',
        false
    )
{%- endmacro %}

{% macro clickhouse__is_connect_envelope(json_expr) -%}
    (JSONHas({{ json_expr }}, 'schema') and JSONType({{ json_expr }}, 'payload') = 'Object')
{%- endmacro %}


{#- The record itself: the envelope's payload, or the whole value when schemaless. -#}
{% macro connect_payload(json_expr) -%}
    {{ return(adapter.dispatch('connect_payload', 'kafka_elt')(json_expr)) }}
{%- endmacro %}

{% macro postgres__connect_payload(json_expr) -%}
    case
        when {{ kafka_elt.is_connect_envelope(json_expr) }} then ({{ json_expr }}) -> 'payload'
        else {{ json_expr }}
    end
{%- endmacro %}

{% macro clickhouse__connect_payload(json_expr) -%}
    if(
        {{ kafka_elt.is_connect_envelope(json_expr) }},
        JSONExtractRaw({{ json_expr }}, 'payload'),
        {{ json_expr }}
    )
{%- endmacro %}


{#- A JSON string member, as text. -#}
{% macro json_string(json_expr, key) -%}
    {{ return(adapter.dispatch('json_string', 'kafka_elt')(json_expr, key)) }}
{%- endmacro %}

{% macro postgres__json_string(json_expr, key) -%}
    case
        when jsonb_typeof(({{ json_expr }}) -> '{{ key }}') = 'string'
            then ({{ json_expr }}) ->> '{{ key }}'
    end
{%- endmacro %}

{% macro clickhouse__json_string(json_expr, key) -%}
    if(
        JSONType({{ json_expr }}, '{{ key }}') = 'String',
        JSONExtractString({{ json_expr }}, '{{ key }}'),
        null
    )
{%- endmacro %}


{#- A JSON number member that is an integer (no fraction, no exponent), as bigint. -#}
{% macro json_integer(json_expr, key) -%}
    {{ return(adapter.dispatch('json_integer', 'kafka_elt')(json_expr, key)) }}
{%- endmacro %}

{% macro postgres__json_integer(json_expr, key) -%}
    case
        when jsonb_typeof(({{ json_expr }}) -> '{{ key }}') = 'number'
            and (({{ json_expr }}) ->> '{{ key }}') ~ '^-?[0-9]{1,18}$'
            then cast(({{ json_expr }}) ->> '{{ key }}' as bigint)
    end
{%- endmacro %}

{% macro clickhouse__json_integer(json_expr, key) -%}
    if(
        JSONType({{ json_expr }}, '{{ key }}') in ('Int64', 'UInt64'),
        JSONExtractInt({{ json_expr }}, '{{ key }}'),
        null
    )
{%- endmacro %}


{#- A JSON number member, as a 64-bit float: what the producer serialized (the Connect
    schema declares the prices "double"). Both engines parse the text correctly rounded,
    so they hold the same IEEE 754 value. -#}
{% macro json_double(json_expr, key) -%}
    {{ return(adapter.dispatch('json_double', 'kafka_elt')(json_expr, key)) }}
{%- endmacro %}

{% macro postgres__json_double(json_expr, key) -%}
    case
        when jsonb_typeof(({{ json_expr }}) -> '{{ key }}') = 'number'
            then cast(({{ json_expr }}) ->> '{{ key }}' as double precision)
    end
{%- endmacro %}

{% macro clickhouse__json_double(json_expr, key) -%}
    if(
        JSONType({{ json_expr }}, '{{ key }}') in ('Int64', 'UInt64', 'Double'),
        JSONExtractFloat({{ json_expr }}, '{{ key }}'),
        null
    )
{%- endmacro %}


{#- A link without its query string and fragment: "/posts/42?ref=home#top" -> "/posts/42".
    Same regular expression on both engines (POSIX on PostgreSQL, RE2 on ClickHouse). -#}
{% macro strip_query_string(link_expr) -%}
    {{ return(adapter.dispatch('strip_query_string', 'kafka_elt')(link_expr)) }}
{%- endmacro %}

{% macro postgres__strip_query_string(link_expr) -%}
    regexp_replace({{ link_expr }}, '[?#].*$', '')
{%- endmacro %}

{% macro clickhouse__strip_query_string(link_expr) -%}
    replaceRegexpOne({{ link_expr }}, '[?#].*$', '')
{%- endmacro %}
