{#-
    Hourly OHLCV per code, rolled up from the 1-minute candles in market_candle:
    open = the first priced candle's opening price, close = the last priced candle's
    trade price, high = max, low = min, volumes summed, over the candles that carry
    prices (a candle carries all four prices or none). Hours are UTC.

    Incremental: the (code, hour) of the candles written since the newest run this
    table holds (market_candle.built_at) are rolled up again in full and upserted. An
    hour whose candles all lost their prices (a re-send without prices) rolls up to
    candle_count 0; the post-hook deletes such rows, so the table holds priced hours
    only, as a full build does.
-#}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        unique_key=['code', 'hour_started_at'],
        incremental_strategy=kafka_elt.upsert_strategy(),
        settings=kafka_elt.upsert_table_settings(),
        engine='ReplacingMergeTree(built_at)',
        order_by=['code', 'hour_started_at'],
        indexes=kafka_elt.postgres_indexes([
            {'columns': ['code', 'hour_started_at'], 'unique': True},
            {'columns': ['built_at']},
        ]),
        post_hook=["delete from {{ this }} where candle_count = 0"],
    )
}}

with

{% if is_incremental() %}
changed_candles as (

    select
        code,
        "timestamp",
        {{ kafka_elt.utc_hour('candle_started_at') }} as hour_started_at

    from {{ ref('market_candle') }}
    where {{ kafka_elt.newer_than_stored('built_at', 'built_at') }}

),

changed_hours as (

    select distinct
        code,
        hour_started_at

    from changed_candles

),

-- the whole hours around the changed candles, in market_candle's own "timestamp"
-- (epoch seconds): with the codes, a range of its (code, "timestamp") index or sort key
changed_span as (

    select
        min("timestamp") - min("timestamp") % 3600 as span_start,
        max("timestamp") - max("timestamp") % 3600 + 3600 as span_end

    from changed_candles

),
{% endif %}

market_candle as (

    select * from {{ ref('market_candle') }}
    {% if is_incremental() %}
    where
        code in (select changed_hours.code from changed_hours)
        and "timestamp" >= (select changed_span.span_start from changed_span)
        and "timestamp" < (select changed_span.span_end from changed_span)
        and (code, {{ kafka_elt.utc_hour('candle_started_at') }}) in (
            select
                changed_hours.code,
                changed_hours.hour_started_at
            from changed_hours
        )
    {% endif %}

),

candles as (

    select
        code,
        {{ kafka_elt.utc_hour('candle_started_at') }} as hour_started_at,
        "timestamp" as candle_timestamp,
        opening_price,
        high_price,
        low_price,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        updated_at,
        built_at,
        case when opening_price is null then 0 else 1 end as is_priced

    from market_candle

),

ordered as (

    select
        *,
        row_number() over (
            partition by code, hour_started_at order by is_priced desc, candle_timestamp asc
        ) as first_rank,
        row_number() over (
            partition by code, hour_started_at order by is_priced desc, candle_timestamp desc
        ) as last_rank

    from candles

),

hourly as (

    select
        code,
        hour_started_at,
        max(case when first_rank = 1 then opening_price end) as open_price,
        max(high_price) as high_price,
        min(low_price) as low_price,
        max(case when last_rank = 1 then trade_price end) as close_price,
        sum(case when is_priced = 1 then candle_acc_trade_volume end) as trade_volume,
        sum(case when is_priced = 1 then candle_acc_trade_price end) as trade_value,
        sum(is_priced) as candle_count,
        max(case when is_priced = 1 then updated_at end) as last_updated_at,
        max(built_at) as built_at

    from ordered
    group by 1, 2

),

typed as (

    select
        code,
        {{ kafka_elt.assume_not_null('hour_started_at') }} as hour_started_at,
        cast(open_price as {{ kafka_elt.decimal_type() }}) as open_price,
        cast(high_price as {{ kafka_elt.decimal_type() }}) as high_price,
        cast(low_price as {{ kafka_elt.decimal_type() }}) as low_price,
        cast(close_price as {{ kafka_elt.decimal_type() }}) as close_price,
        cast(trade_volume as {{ kafka_elt.decimal_type() }}) as trade_volume,
        cast(trade_value as {{ kafka_elt.decimal_type() }}) as trade_value,
        cast(candle_count as {{ dbt.type_bigint() }}) as candle_count,
        last_updated_at,
        -- the newest run that wrote one of the hour's candles
        {{ kafka_elt.assume_not_null('built_at') }} as built_at

    from hourly

),

final as (

    select
        typed.*,
        -- what mart_checksums sums (macros/checksum_columns.sql)
        {{ kafka_elt.row_checksum('candle_ohlcv_hourly') }} as row_checksum

    from typed

)

select * from final
