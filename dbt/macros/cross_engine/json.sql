{#-
    JSON access for the raw Kafka values (text holding one JSON object).

    PostgreSQL parses the text once into jsonb; ClickHouse's JSON* functions read the
    text directly. Every extractor returns NULL when the key is missing or holds another
    JSON type, so both engines treat unexpected input the same way (and the staging
    not_null tests report it) instead of one engine failing and the other inventing 0.
-#}

{#- The body of a CTE: every column of `relation` plus the JSON decoding of its rows
    that the drain did not decode at load time (`decoded_column` false: loaded before the
    raw tables had typed columns, see settings.KIND_COLUMNS):
      json_is_connect_envelope  whether the value was a Kafka Connect envelope,
      json_payload              the record itself (jsonb on PostgreSQL, JSON text on
                                ClickHouse);
    NULL (PostgreSQL) or empty (ClickHouse: the JSON functions then read '', which costs
    next to nothing) for the other rows, whose value is never parsed. Use the typed
    columns for those rows: decoded_or_json().
    PostgreSQL parses each such value once: a LATERAL subquery with OFFSET 0 keeps the
    planner from inlining the jsonb cast into every expression that uses it (which would
    re-parse the text dozens of times per row), while filters on the relation's columns
    (the incremental ingested_at window) still reach the table scan. Its WHERE on the
    outer row is a one-time filter: for a decoded row the subquery stops before the cast
    (measured over 1M decoded rows: as cheap as reading the typed columns alone, 20 %
    cheaper than a CASE around the cast). ClickHouse parses JSON text fast enough in
    place, from a copy of the value that is empty for decoded rows. -#}
{% macro select_json_fallback(relation, value_column, decoded_column) -%}
    {{ return(adapter.dispatch('select_json_fallback', 'kafka_elt')(relation, value_column, decoded_column)) }}
{%- endmacro %}

{% macro postgres__select_json_fallback(relation, value_column, decoded_column) -%}
    select
        {{ relation }}.*,
        json_fallback.json_is_connect_envelope,
        json_fallback.json_payload

    from {{ relation }}
    left join lateral (
        select
            {{ kafka_elt.is_connect_envelope('message_json.message') }} as json_is_connect_envelope,
            {{ kafka_elt.connect_payload('message_json.message') }} as json_payload
        from (
            select cast({{ relation }}.{{ value_column }} as jsonb) as message
            where {{ relation }}.{{ decoded_column }} is not true
            limit all offset 0
        ) as message_json
        limit all offset 0
    ) as json_fallback on true
{%- endmacro %}

{% macro clickhouse__select_json_fallback(relation, value_column, decoded_column) -%}
    select
        *,
        {{ kafka_elt.is_connect_envelope('json_source') }} as json_is_connect_envelope,
        {{ kafka_elt.connect_payload('json_source') }} as json_payload

    from (
        select
            *,
            if({{ decoded_column }}, '', {{ value_column }}) as json_source
        from {{ relation }}
    )
{%- endmacro %}


{#- A field of the message: the typed column the drain filled at load time or, for a row
    loaded before it existed, the same field decoded from the JSON (`json_expr` reads
    select_json_fallback's json_payload). A coalesce, not a CASE on the flag: the typed
    columns are NULL in old rows, and select_json_fallback's JSON is NULL or empty in
    decoded rows (so every extraction from it is NULL). ClickHouse evaluates CASE / if
    branches lazily, row subset by row subset, and then parses the shared JSON payload
    again for every field: measured, 6x the CPU of today's decoding on old rows. -#}
{% macro decoded_or_json(decoded_expr, json_expr) -%}
    coalesce({{ decoded_expr }}, {{ json_expr }})
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
