-- Hourly OHLCV of one code over the last 7 days of its data
-- The code is the query's parameter (the DAG's `code` param). The week ends at the
-- code's newest hour, so the answer depends on the data only.
-- sqlfluff:templater:placeholder:param_style:pyformat
with

candle_ohlcv_hourly as (
    select
        hour_started_at,
        open_price,
        high_price,
        low_price,
        close_price,
        trade_volume
    from analytics.candle_ohlcv_hourly
    where code = %(code)s
),

newest as (
    select max(hour_started_at) as newest_hour_started_at
    from candle_ohlcv_hourly
),

final as (
    select
        candle_ohlcv_hourly.hour_started_at,
        candle_ohlcv_hourly.open_price,
        candle_ohlcv_hourly.high_price,
        candle_ohlcv_hourly.low_price,
        candle_ohlcv_hourly.close_price,
        candle_ohlcv_hourly.trade_volume
    from candle_ohlcv_hourly
    cross join newest
    where candle_ohlcv_hourly.hour_started_at > newest.newest_hour_started_at - interval '7' day
)

select * from final
order by hour_started_at
