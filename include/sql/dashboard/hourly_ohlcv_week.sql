-- Hourly OHLCV of one code over the last 7 days of its data
-- The code is the query's parameter (the DAG's `code` param). The week ends at the
-- code's newest hour (a scalar subquery, computed once, so both engines can use their
-- (code, hour_started_at) key), and the answer depends on the data only.
-- sqlfluff:templater:placeholder:param_style:pyformat
with

newest as (
    select max(hour_started_at) as newest_hour_started_at
    from analytics.candle_ohlcv_hourly
    where code = %(code)s
),

final as (
    select
        hour_started_at,
        open_price,
        high_price,
        low_price,
        close_price,
        trade_volume
    from analytics.candle_ohlcv_hourly
    where
        code = %(code)s
        and hour_started_at > (select newest.newest_hour_started_at from newest) - interval '7' day
)

select * from final
order by hour_started_at
