{#-
    latest_price's reads of market_candle, as CTEs ending in `joined`: per code, the
    newest priced candle, the newest priced candle at least `day_seconds` older, and the
    sums of the priced candles of the last `day_seconds` before the newest one.
    Columns of `joined`: code, latest_candle_started_at, latest_trade_price, updated_at,
    reference_candle_started_at, reference_trade_price, trade_volume_24h, trade_value_24h.

    Two bodies, one result (mart_checksums compares them): PostgreSQL answers each of the
    three from its (code, "timestamp") unique index, a handful of probes per code, where
    one pass over every candle took seconds at a year of data; ClickHouse reads all the
    candles' few columns for the sums, then reads the two candles per code by its sorting
    key (code, "timestamp").
-#}
{% macro latest_candles(market_candle, day_seconds) -%}
    {{ return(adapter.dispatch('latest_candles', 'kafka_elt')(market_candle, day_seconds)) }}
{%- endmacro %}


{#- The relation is named in every subquery rather than read once in a CTE: PostgreSQL
    materializes a CTE read more than once, and a materialized CTE has no index. -#}
{% macro postgres__latest_candles(market_candle, day_seconds) -%}
codes as (

    -- the distinct codes by one index probe each (a loose index scan)
    with recursive next_code as (
        (select code from {{ market_candle }} order by code limit 1)
        union all
        select (
            select candle.code from {{ market_candle }} as candle
            where candle.code > next_code.code
            order by candle.code
            limit 1
        )
        from next_code
        where next_code.code is not null
    )

    select code from next_code
    where code is not null

),

joined as (

    select
        codes.code,
        latest_candle.candle_started_at as latest_candle_started_at,
        latest_candle.trade_price as latest_trade_price,
        latest_candle.updated_at,
        reference_candle.candle_started_at as reference_candle_started_at,
        reference_candle.trade_price as reference_trade_price,
        last_day.trade_volume_24h,
        last_day.trade_value_24h

    from codes
    -- priced candles only: a candle may come without prices (all four or none)
    cross join lateral (
        select
            candle."timestamp",
            candle.candle_started_at,
            candle.trade_price,
            candle.updated_at
        from {{ market_candle }} as candle
        where candle.code = codes.code and candle.trade_price is not null
        order by candle."timestamp" desc
        limit 1
    ) as latest_candle
    left join lateral (
        select
            candle.candle_started_at,
            candle.trade_price
        from {{ market_candle }} as candle
        where
            candle.code = codes.code
            and candle.trade_price is not null
            and candle."timestamp" <= latest_candle."timestamp" - {{ day_seconds }}
        order by candle."timestamp" desc
        limit 1
    ) as reference_candle on true
    cross join lateral (
        select
            sum(candle.candle_acc_trade_volume) as trade_volume_24h,
            sum(candle.candle_acc_trade_price) as trade_value_24h
        from {{ market_candle }} as candle
        where
            candle.code = codes.code
            and candle.trade_price is not null
            and candle."timestamp" > latest_candle."timestamp" - {{ day_seconds }}
    ) as last_day

)
{%- endmacro %}


{% macro default__latest_candles(market_candle, day_seconds) -%}
candles as (

    select
        code,
        "timestamp" as candle_timestamp,
        candle_started_at,
        trade_price,
        candle_acc_trade_volume,
        candle_acc_trade_price,
        updated_at

    from {{ market_candle }}
    -- priced candles only: a candle may come without prices (all four or none)
    where trade_price is not null

),

latest_per_code as (

    select
        code,
        max(candle_timestamp) as latest_candle_timestamp

    from candles
    group by 1

),

windows as (

    select
        -- explicit names: ClickHouse would name these columns "candles.code" etc.
        candles.code as code,
        latest_per_code.latest_candle_timestamp as latest_candle_timestamp,
        max(
            case
                when candles.candle_timestamp <= latest_per_code.latest_candle_timestamp - {{ day_seconds }}
                    then candles.candle_timestamp
            end
        ) as reference_candle_timestamp,
        sum(
            case
                when candles.candle_timestamp > latest_per_code.latest_candle_timestamp - {{ day_seconds }}
                    then candles.candle_acc_trade_volume
            end
        ) as trade_volume_24h,
        sum(
            case
                when candles.candle_timestamp > latest_per_code.latest_candle_timestamp - {{ day_seconds }}
                    then candles.candle_acc_trade_price
            end
        ) as trade_value_24h

    from candles
    inner join latest_per_code
        on candles.code = latest_per_code.code
    group by 1, 2

),

joined as (

    select
        windows.code as code,
        latest_candle.candle_started_at as latest_candle_started_at,
        latest_candle.trade_price as latest_trade_price,
        latest_candle.updated_at as updated_at,
        reference_candle.candle_started_at as reference_candle_started_at,
        reference_candle.trade_price as reference_trade_price,
        windows.trade_volume_24h as trade_volume_24h,
        windows.trade_value_24h as trade_value_24h

    from windows
    -- the two candles per code, found by the sorting key: joined to every candle,
    -- ClickHouse built a hash table of all of them, twice (3.3 s at a year of data,
    -- 1.0 s this way, measured side by side on an idle machine)
    inner join (
        select * from candles
        where (code, candle_timestamp) in (select code, latest_candle_timestamp from latest_per_code)
    ) as latest_candle
        on
            windows.code = latest_candle.code
            and windows.latest_candle_timestamp = latest_candle.candle_timestamp
    left join (
        select * from candles
        where (code, candle_timestamp) in (select code, reference_candle_timestamp from windows)
    ) as reference_candle
        on
            windows.code = reference_candle.code
            and windows.reference_candle_timestamp = reference_candle.candle_timestamp

)
{%- endmacro %}
