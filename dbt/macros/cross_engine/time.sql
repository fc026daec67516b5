{#-
    Time handling. Every timestamp a model produces is a UTC instant: timestamptz on
    PostgreSQL (rendered in the session's time zone, but stored and compared as an
    instant), DateTime64(6, 'UTC') / DateTime('UTC') on ClickHouse. Truncation to hours
    and days is always done in UTC, never in the session's time zone.
-#}

{% macro timestamp_type() -%}
    {{ return(adapter.dispatch('timestamp_type', 'kafka_elt')()) }}
{%- endmacro %}

{% macro postgres__timestamp_type() -%}
    timestamptz
{%- endmacro %}

{% macro clickhouse__timestamp_type() -%}
    DateTime64(6, 'UTC')
{%- endmacro %}


{#- ISO 8601 text with a UTC offset or Z ("2025-05-19T13:45:30.123+09:00",
    "2025-05-19T04:45:30Z"), fractional seconds optional, to a UTC timestamp with
    microsecond precision. Text without an offset is read as UTC (never as the session's
    zone); anything else is NULL. Digits past the microsecond are truncated the same way
    on both engines (PostgreSQL alone would round them). -#}
{% macro iso8601_to_utc(text_expr) -%}
    {{ return(adapter.dispatch('iso8601_to_utc', 'kafka_elt')(text_expr)) }}
{%- endmacro %}

{% macro iso8601_pattern() -%}
    ^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?$
{%- endmacro %}

{% macro postgres__iso8601_to_utc(text_expr) -%}
    case
        when ({{ text_expr }}) ~ '{{ kafka_elt.iso8601_pattern() }}'
            then cast(
                regexp_replace(
                    regexp_replace({{ text_expr }}, '([.][0-9]{6})[0-9]+', '\1'),
                    '([0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?)$',
                    '\1Z'
                ) as timestamptz
            )
    end
{%- endmacro %}

{% macro clickhouse__iso8601_to_utc(text_expr) -%}
    if(
        match({{ text_expr }}, '{{ kafka_elt.iso8601_pattern() }}'),
        parseDateTime64BestEffortOrNull({{ text_expr }}, 6, 'UTC'),
        null
    )
{%- endmacro %}


{#- A Kafka record timestamp: milliseconds since the epoch by definition. ClickHouse's raw
    column is DateTime64(3) already; PostgreSQL's timestamptz could hold microseconds a
    loader put there, which would make the engines disagree. -#}
{% macro kafka_timestamp(ts_expr) -%}
    {{ return(adapter.dispatch('kafka_timestamp', 'kafka_elt')(ts_expr)) }}
{%- endmacro %}

{% macro postgres__kafka_timestamp(ts_expr) -%}
    date_trunc('milliseconds', {{ ts_expr }})
{%- endmacro %}

{% macro clickhouse__kafka_timestamp(ts_expr) -%}
    {{ ts_expr }}
{%- endmacro %}


{#- Unix epoch seconds to a UTC timestamp. -#}
{% macro epoch_seconds_to_utc(seconds_expr) -%}
    {{ return(adapter.dispatch('epoch_seconds_to_utc', 'kafka_elt')(seconds_expr)) }}
{%- endmacro %}

{% macro postgres__epoch_seconds_to_utc(seconds_expr) -%}
    to_timestamp({{ seconds_expr }})
{%- endmacro %}

{% macro clickhouse__epoch_seconds_to_utc(seconds_expr) -%}
    toDateTime64({{ seconds_expr }}, 0, 'UTC')
{%- endmacro %}


{#- A timestamp as integer microseconds since the epoch: exact on both engines. -#}
{% macro epoch_microseconds(ts_expr) -%}
    {{ return(adapter.dispatch('epoch_microseconds', 'kafka_elt')(ts_expr)) }}
{%- endmacro %}

{% macro postgres__epoch_microseconds(ts_expr) -%}
    cast(extract(epoch from {{ ts_expr }}) * 1000000 as bigint)
{%- endmacro %}

{% macro clickhouse__epoch_microseconds(ts_expr) -%}
    toUnixTimestamp64Micro(toDateTime64({{ ts_expr }}, 6, 'UTC'))
{%- endmacro %}


{#- A timestamp as integer milliseconds since the epoch (Kafka's precision). -#}
{% macro epoch_milliseconds(ts_expr) -%}
    {{ return(adapter.dispatch('epoch_milliseconds', 'kafka_elt')(ts_expr)) }}
{%- endmacro %}

{% macro postgres__epoch_milliseconds(ts_expr) -%}
    cast(floor(extract(epoch from {{ ts_expr }}) * 1000) as bigint)
{%- endmacro %}

{% macro clickhouse__epoch_milliseconds(ts_expr) -%}
    toUnixTimestamp64Milli(toDateTime64({{ ts_expr }}, 3, 'UTC'))
{%- endmacro %}


{#- Start of the UTC hour / the UTC calendar date of a timestamp. -#}
{% macro utc_hour(ts_expr) -%}
    {{ return(adapter.dispatch('utc_hour', 'kafka_elt')(ts_expr)) }}
{%- endmacro %}

{% macro postgres__utc_hour(ts_expr) -%}
    date_trunc('hour', {{ ts_expr }}, 'UTC')
{%- endmacro %}

{% macro clickhouse__utc_hour(ts_expr) -%}
    toStartOfHour(toDateTime64({{ ts_expr }}, 6, 'UTC'))
{%- endmacro %}

{% macro utc_date(ts_expr) -%}
    {{ return(adapter.dispatch('utc_date', 'kafka_elt')(ts_expr)) }}
{%- endmacro %}

{% macro postgres__utc_date(ts_expr) -%}
    cast(({{ ts_expr }}) at time zone 'UTC' as date)
{%- endmacro %}

{% macro clickhouse__utc_date(ts_expr) -%}
    toDate({{ ts_expr }}, 'UTC')
{%- endmacro %}


{#- A timestamp minus N minutes. -#}
{% macro minus_minutes(ts_expr, minutes) -%}
    {{ return(adapter.dispatch('minus_minutes', 'kafka_elt')(ts_expr, minutes)) }}
{%- endmacro %}

{% macro postgres__minus_minutes(ts_expr, minutes) -%}
    ({{ ts_expr }}) - interval '{{ minutes | int }} minutes'
{%- endmacro %}

{% macro clickhouse__minus_minutes(ts_expr, minutes) -%}
    ({{ ts_expr }}) - toIntervalMinute({{ minutes | int }})
{%- endmacro %}
