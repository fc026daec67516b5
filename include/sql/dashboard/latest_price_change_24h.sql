-- Latest price and 24-hour change per code
-- The change is against the newest candle at least 24 hours older (NULL while a code
-- has less than a day of data); the percentage is exact to 6 decimals on both engines.
with

latest_price as (
    select
        code,
        latest_candle_started_at,
        latest_trade_price,
        reference_trade_price,
        change_24h,
        change_24h_pct
    from analytics.latest_price
)

select * from latest_price
order by code
