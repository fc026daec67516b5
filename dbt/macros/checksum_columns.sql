{#-
    The business columns of each mart, with their kinds for canonical_text: what its
    row_checksum covers (and so what mart_checksums compares across the engines). Load
    metadata (ingested_at, built_at) and physical versions are left out: they differ
    between the databases by design.
-#}
{% macro checksum_columns(mart_name) -%}
    {%- set columns = {
        'market_candle': [
            ['type', 'text'], ['code', 'text'], ['"timestamp"', 'integer'],
            ['opening_price', 'decimal'], ['high_price', 'decimal'], ['low_price', 'decimal'],
            ['trade_price', 'decimal'], ['candle_acc_trade_volume', 'decimal'],
            ['candle_acc_trade_price', 'decimal'], ['stream_type', 'text'],
            ['candle_started_at', 'timestamp'], ['updated_at', 'timestamp'],
            ['kafka_partition', 'integer'], ['kafka_offset', 'integer'],
        ],
        'user_footprint': [
            ['footprint_id', 'text'], ['kafka_topic', 'text'], ['kafka_partition', 'integer'],
            ['kafka_offset', 'integer'], ['link', 'text'], ['request', 'text'],
            ['footprint_time', 'timestamp'], ['link_path', 'text'], ['visit_date', 'date'],
            ['produced_at', 'timestamp'],
        ],
        'page_views_hourly': [
            ['hour_started_at', 'timestamp'], ['visit_date', 'date'], ['link_path', 'text'],
            ['page_view_count', 'integer'],
        ],
        'top_links_daily': [
            ['visit_date', 'date'], ['link_rank', 'integer'], ['link_path', 'text'],
            ['page_view_count', 'integer'],
        ],
        'candle_ohlcv_hourly': [
            ['code', 'text'], ['hour_started_at', 'timestamp'], ['open_price', 'decimal'],
            ['high_price', 'decimal'], ['low_price', 'decimal'], ['close_price', 'decimal'],
            ['trade_volume', 'decimal'], ['trade_value', 'decimal'], ['candle_count', 'integer'],
            ['last_updated_at', 'timestamp'],
        ],
        'latest_price': [
            ['code', 'text'], ['latest_candle_started_at', 'timestamp'],
            ['latest_trade_price', 'decimal'], ['updated_at', 'timestamp'],
            ['reference_candle_started_at', 'timestamp'], ['reference_trade_price', 'decimal'],
            ['change_24h', 'decimal'], ['change_24h_pct', 'decimal'],
            ['trade_volume_24h', 'decimal'], ['trade_value_24h', 'decimal'],
        ],
    } -%}
    {{ return(columns[mart_name]) }}
{%- endmacro %}


{#- A row's checksum: the first 60 bits of the MD5 of the canonical text of its
    business columns (checksum_columns). Each mart stores it as it writes the row, so
    that mart_checksums sums one integer column instead of hashing every row on every
    build (64 s over 10M page visits on PostgreSQL in bench/volume.py). -#}
{% macro row_checksum(mart_name) -%}
    cast({{ kafka_elt.md5_int60(kafka_elt.row_text(kafka_elt.checksum_columns(mart_name))) }} as {{ dbt.type_bigint() }})
{%- endmacro %}
